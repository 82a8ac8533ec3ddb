"""The audit's facts collector: for each process holding a network socket, and for the host,
what the signs of ``pynetstat.audit.signs`` need, each with the file it came from.

``collect_evidence(env, netlink)`` -> ``model.evidence.Evidence``. Facts of a process, by key
(``ProcessFacts.facts``):

- ``name`` (/proc/PID/stat), ``argv0`` (/proc/PID/cmdline), ``user`` (/proc/PID/status);
- ``exe``: ``{"path", "deleted", "memfd", "replaced"}`` from /proc/PID/exe. ``memfd``: the link
  reads ``/memfd:NAME (deleted)`` (mm/memfd.c names the file ``memfd:`` + NAME);
  ``replaced``: deleted, and another file now has its path (an upgrade not yet restarted);
- ``exe_place``: ``{"directory", "world_writable", "mode", "temporary"}``: the nearest directory on
  the executable's path that anyone may write (stat of each, through /proc/PID/root so a
  container's paths are its own), and ``temporary``, the listed place (``TEMPORARY_PLACES``) it
  lies under;
- ``exe_writable``: ``{"path", "owner", "mode"}`` when the process's (non-root) user can write the
  executable, or its directory (decided from st_uid, st_gid and the mode bits, not access(2),
  which would answer for us, not for that user);
- ``std_sockets``: ``{"0": inode, ...}``: standard streams that are network sockets;
- ``ld_preload``: the LD_PRELOAD of /proc/PID/environ (``None`` when unset; unreadable when we
  may not read another user's environment).

Host facts (``Evidence.host``): ``ld_so_preload`` (non-empty /etc/ld.so.preload, its entries),
``uid_min`` (UID_MIN of /etc/login.defs, else 1000). RAW and packet sockets
(``Evidence.packet_sockets``, ``raw_sockets``: ``linux/capture.py``), with their holders, whose
processes join ``processes`` and are judged like any other.
"""

from __future__ import annotations

import os
from stat import S_ISVTX, S_IWGRP, S_IWOTH, S_IWUSR

from pynetstat.linux.crossview import KINDS, compare_views
from pynetstat.linux.owners import scan_owners
from pynetstat.linux.procfs import read_file
from pynetstat.model.evidence import Evidence, Fact, ProcessFacts
from pynetstat.options import Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.linux.connections import ConnectionSet
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.linux.owners import OwnerMap
    from pynetstat.linux.process import ProcessCache
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.model.process import ProcessInfo
    from pynetstat.model.sockets import InetSocket, Owner, ScanReport, SocketBatch

# Places meant for scratch files, where no installed program lives (FHS 3.0: /tmp, /var/tmp;
# /dev/shm and /run/shm are tmpfs for POSIX shared memory; /run/lock, /var/lock for lock files).
# A user's ~/.cache is matched by its component ``/.cache/``.
TEMPORARY_PLACES = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/run/lock/", "/var/lock/")
IFF_PROMISC = 0x100  # include/uapi/linux/if.h
PID_NS_INIT = "pid:[4026531836]"  # PROC_PID_INIT_INO, include/linux/proc_ns.h
MEMFD_PREFIX = "/memfd:"


def _connections(opts: Options, env: Environment, netlink: NetlinkSource | None
                 ) -> ConnectionSet:
    """The one place the audit reaches the connection collection (moving to
    ``pynetstat.linux.connections`` with the same signature)."""
    from pynetstat.linux.connections import collect

    return collect(opts, env, netlink)


def collect_evidence(env: Environment, netlink: NetlinkSource | None, *, etc: str = "/etc",
                     sys_root: str = "/sys") -> Evidence:
    """Read every fact the signs judge. ``etc`` and ``sys_root`` are parameters so a test can
    give its own tree, as ``env.proc_root`` replaces /proc."""
    evidence = Evidence()
    conns = _connections(Options(all=True, executables=True, verbose=True), env, netlink)
    procfs = conns.proc
    owner_map = conns.owners
    assert owner_map is not None  # -b, no filter: the set scanned them (linux/connections.py)
    inet_inodes: set[int] = set()
    unowned: list[InetSocket] = []
    dumped: dict[tuple[str, int], list[SocketBatch]] = {}  # the batches of each kind: the cross-view's first
    for batch in conns:
        inet_inodes.update(batch.inode)
        dumped.setdefault((batch.proto, batch.family), []).append(batch)
        # Grouped by owner tuple (one shared tuple per process, linux/connections.py), so that
        # the per-socket work is one append, not a lookup per owner (200,000 sockets).
        groups: dict[tuple[Owner, ...], list[InetSocket]] = {}
        for sock, owners in batch.rows():
            group = groups.get(owners)
            if group is None:
                group = groups[owners] = []
            group.append(sock)
        unowned += [sock for sock in groups.pop((), ()) if sock.inode]
        for owners, socks in groups.items():
            for owner in owners:
                pf = evidence.processes.get(owner.pid)
                if pf is None:
                    pf = evidence.processes[owner.pid] = ProcessFacts(owner.pid, owner.process)
                pf.sockets += socks
    inet_inodes.discard(0)
    evidence.interfaces = promiscuous_interfaces(sys_root, evidence.notes)
    _capturers(evidence, netlink, procfs, owner_map, sys_root)
    for pf in evidence.processes.values():
        if pf.process is not None:
            _process_facts(procfs, pf, pf.process, inet_inodes)
    unread = [pf.pid for pf in evidence.processes.values()
              if "ld_preload" in pf.facts and pf.facts["ld_preload"].unreadable]
    if unread:
        evidence.notes.append(f"LD_PRELOAD not checked for {len(unread)} process(es) whose "
                              f"environment we may not read (PIDs {', '.join(map(str, unread))})")
    # The connection collection's dump is the cross-view's first sock_diag reading, for each kind
    # it read from netlink: the same request (every state but BOUND_INACTIVE, which /proc/net
    # does not list either), not made twice.
    first = {kind: dumped.get(kind, []) for kind in KINDS
             if conns.log.sources.get(kind[0] + ("6" if kind[1] == 6 else "")) == "netlink"}
    evidence.disagreements, alive = compare_views(netlink, procfs, evidence.notes, first)
    if unowned:
        # Seen twice or not at all: a socket made after the owner scan, or whose process
        # exited, is not unowned. A second scan, and the kernel's later reading, decide.
        again = scan_owners(procfs.root)
        evidence.unowned = [r for r in unowned if r.inode in alive and r.inode not in again.first]
    evidence.visibility = _visibility(procfs, owner_map.report)
    evidence.host.update(_host_facts(etc))
    return evidence


def _capturers(evidence: Evidence, netlink: NetlinkSource | None, procfs: ProcFS, owners: OwnerMap,
               sys_root: str) -> None:
    """Packet and RAW sockets, and a ``ProcessFacts`` for each holder not met yet (one that holds
    no TCP or UDP socket: a sniffer need not)."""
    from pynetstat.linux.capture import interface_names, packet_sockets, raw_sockets
    from pynetstat.linux.process import read_process

    ifnames = interface_names(sys_root)
    evidence.packet_sockets = packet_sockets(netlink, procfs, owners, ifnames,
                                             bool(evidence.interfaces), evidence.notes)
    evidence.raw_sockets = raw_sockets(netlink, procfs, owners, ifnames, evidence.notes)
    cache: ProcessCache = {}
    for _, pids in evidence.packet_sockets + evidence.raw_sockets:
        for pid in pids:
            if pid not in evidence.processes:
                evidence.processes[pid] = ProcessFacts(
                    pid, read_process(procfs, pid, ancestry=True, cache=cache))


def _process_facts(procfs: ProcFS, pf: ProcessFacts, info: ProcessInfo, inet_inodes: set[int]
                   ) -> None:
    """The facts of ``pf``, whose process ``info`` was read."""
    pid = pf.pid
    facts = pf.facts
    facts["name"] = Fact("name", info.name, procfs.path(f"{pid}/stat"))
    if info.cmdline:
        facts["argv0"] = Fact("argv[0]", info.cmdline[0], procfs.path(f"{pid}/cmdline"))
    if info.uid is not None:
        facts["user"] = Fact("user", info.uid, procfs.path(f"{pid}/status"))
    root = procfs.path(f"{pid}/root")
    if info.exe is not None:
        facts["exe"] = _exe_fact(procfs, pid, info.exe, info.exe_deleted, root)
        place = exe_place(root, info.exe)
        if place is not None:
            facts["exe_place"] = place
        if info.uid:
            writable = _writable_by_user(procfs, pid, info.uid, root, info.exe)
            if writable is not None:
                facts["exe_writable"] = writable
    streams: dict[str, int] = {}
    for fd in ("0", "1", "2"):
        try:
            link = procfs.readlink(f"{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and int(link[8:-1]) in inet_inodes:
            streams[fd] = int(link[8:-1])
    if streams:
        facts["std_sockets"] = Fact("standard streams on network sockets", streams,
                                    procfs.path(f"{pid}/fd/{{0,1,2}}"))
    facts["ld_preload"] = _ld_preload(procfs, pid)


def _exe_fact(procfs: ProcFS, pid: int, exe: str, deleted: bool, root: str) -> Fact:
    memfd = deleted and exe.startswith(MEMFD_PREFIX)
    replaced = None
    if deleted and not memfd:
        try:
            os.stat(root + exe)
            replaced = True  # the running file has no links, yet its path names a file
        except OSError:
            replaced = False
    return Fact("executable", {"path": exe, "deleted": deleted, "memfd": memfd,
                               "replaced": replaced}, procfs.path(f"{pid}/exe"))


def exe_place(root: str, exe: str) -> Fact | None:
    """The nearest world-writable directory on the path of ``exe`` (seen below ``root``), and the
    listed temporary place it lies under; ``None`` when it is neither."""
    if exe.startswith(MEMFD_PREFIX) or not exe.startswith("/"):
        return None
    temporary = next((p.rstrip("/") for p in TEMPORARY_PLACES if exe.startswith(p)), None)
    if temporary is None and "/.cache/" in exe:
        temporary = exe[:exe.index("/.cache/") + 7]
    path = os.path.dirname(exe)
    while True:
        try:
            st = os.stat(root + path)
        except OSError:
            st = None
        if st is not None and st.st_mode & S_IWOTH:
            return Fact("executable's place", {
                "directory": path, "world_writable": True, "mode": f"{st.st_mode & 0o7777:04o}",
                "temporary": temporary}, f"stat {path}")
        if path == "/":
            break
        path = os.path.dirname(path)
    if temporary is None:
        return None
    return Fact("executable's place", {"directory": os.path.dirname(exe), "world_writable": False,
                                       "mode": None, "temporary": temporary},
                "the list of temporary places (linux/evidence.py TEMPORARY_PLACES)")


def _groups(procfs: ProcFS, pid: int) -> set[int]:
    """Real and supplementary GIDs (``Gid:`` and ``Groups:`` of /proc/PID/status)."""
    try:
        text = procfs.read_bytes(f"{pid}/status").decode("ascii", "replace")
    except OSError:
        return set()
    gids: set[int] = set()
    for line in text.splitlines():
        if line.startswith(("Gid:", "Groups:")):
            gids.update(int(g) for g in line.split(":", 1)[1].split() if g.isdigit())
    return gids


def _writable_by_user(procfs: ProcFS, pid: int, uid: int, root: str, exe: str) -> Fact | None:
    """Can user ``uid`` (not root: root may write anything) change the executable, by writing the
    file or replacing it in a directory it may write (and, if sticky, owns)?"""
    gids = _groups(procfs, pid)
    for path, is_dir in ((exe, False), (os.path.dirname(exe), True)):
        try:
            st = os.stat(root + path)
        except OSError:
            continue
        mode = st.st_mode
        if is_dir and mode & S_ISVTX and st.st_uid != uid:
            continue  # a sticky directory: only the file's owner may replace it (checked above)
        if (mode & S_IWOTH or (st.st_uid == uid and mode & S_IWUSR)
                or (st.st_gid in gids and mode & S_IWGRP)):
            return Fact("its user can write the executable" + (" (its directory)" if is_dir else ""),
                        {"path": path, "owner": st.st_uid, "group": st.st_gid,
                         "mode": f"{mode & 0o7777:04o}"}, f"stat {path}")
    return None


def _ld_preload(procfs: ProcFS, pid: int) -> Fact:
    source = procfs.path(f"{pid}/environ")
    try:
        data = procfs.read_bytes(f"{pid}/environ")
    except OSError as e:
        return Fact("LD_PRELOAD", None, source, (e.strerror or str(e)).lower())
    for entry in data.split(b"\0"):
        if entry.startswith(b"LD_PRELOAD="):
            value = entry[11:].decode("utf-8", "surrogateescape")
            return Fact("LD_PRELOAD", value or None, source)
    return Fact("LD_PRELOAD", None, source)


def _visibility(procfs: ProcFS, report: ScanReport) -> Fact | None:
    """Why a socket could have an owner we cannot see; ``None`` when every fd table was read."""
    if report.hidepid:
        return Fact("processes hidden from us", report.hidepid, procfs.path("self/mountinfo"))
    if report.denied:
        return Fact("processes whose fds we may not read (permission denied)", report.denied,
                    procfs.path("*/fd"))
    try:
        ns = procfs.readlink("self/ns/pid")
    except OSError as e:
        return Fact("our PID namespace", None, procfs.path("self/ns/pid"),
                    (e.strerror or str(e)).lower())
    if ns != PID_NS_INIT:
        # Processes of an enclosing PID namespace may hold sockets of our network namespace.
        return Fact("our PID namespace (not the initial one)", ns, procfs.path("self/ns/pid"))
    return None


def _host_facts(etc: str) -> dict[str, Fact]:
    facts: dict[str, Fact] = {}
    path = f"{etc}/ld.so.preload"
    try:
        entries = read_file(path).decode("utf-8", "surrogateescape").split()
    except FileNotFoundError:
        entries = []
    except OSError as e:
        facts["ld_so_preload"] = Fact("entries", None, path, (e.strerror or str(e)).lower())
        entries = []
    if entries:
        facts["ld_so_preload"] = Fact("entries", entries, path)
    facts["uid_min"] = uid_min(etc)
    return facts


def uid_min(etc: str) -> Fact:
    """The first UID of an ordinary user: ``UID_MIN`` of login.defs(5), else its default 1000."""
    path = f"{etc}/login.defs"
    try:
        text = read_file(path).decode("utf-8", "replace")
    except OSError:
        return Fact("UID_MIN", 1000, "the default of login.defs(5) (no /etc/login.defs)")
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "UID_MIN" and words[1].isdigit():
            return Fact("UID_MIN", int(words[1]), path)
    return Fact("UID_MIN", 1000, f"the default of login.defs(5) (no UID_MIN in {path})")


def promiscuous_interfaces(sys_root: str, notes: list[str]) -> list[Fact]:
    """Interfaces whose flags (``/sys/class/net/NAME/flags``, dev->flags) have IFF_PROMISC.

    sysfs shows the device's own flags, so promiscuity a packet socket asked for (tcpdump's
    PACKET_MR_PROMISC) shows here and not in ``ip link``; a bridge, bond or Open vSwitch port is
    promiscuous because its master made it so, and ``master`` says which.
    """
    base = f"{sys_root}/class/net"
    try:
        names = sorted(os.listdir(base))
    except OSError as e:
        notes.append(f"interfaces not checked for promiscuous mode: {base}: {e.strerror or e}")
        return []
    found: list[Fact] = []
    for name in names:
        try:
            flags = int(read_file(f"{base}/{name}/flags").strip(), 16)
        except (OSError, ValueError):
            continue
        if flags & IFF_PROMISC:
            try:
                master = os.path.basename(os.readlink(f"{base}/{name}/master"))
            except OSError:
                master = None
            found.append(Fact("promiscuous interface", {"interface": name, "flags": f"{flags:#x}",
                                                        "master": master},
                              f"{base}/{name}/flags"))
    return found
