"""Turn a PID into a ProcessInfo: executable, argv, cgroup, systemd unit, container, ancestry.

Every read goes through ``ProcFS`` so a recorded tree replays as /proc. The parsers are pure and
take the raw bytes of one file. Names and paths are decoded with surrogateescape: bytes that are
not UTF-8 survive to the renderer, which escapes them with ``pynetstat.textsafe``.

Cost: one batch of five small reads per process (stat, status, exe, cmdline, cgroup) and a stat
of the executable; with a shared ``cache``, a process already read costs only its stat read,
which also tells whether the PID now names another process (start time) or the same one after an
exec (name, parent).
"""

from __future__ import annotations

import errno
import os

from pynetstat.errors import ParseError
from pynetstat.model.process import PERMISSION_DENIED, VANISHED, Container, ProcessInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pynetstat.linux.procfs import ProcFS

    ProcessCache = dict[tuple[int, int], ProcessInfo]

_DELETED = " (deleted)"  # appended by the kernel's d_path() to an unlinked file's path
_HEX = frozenset("0123456789abcdef")


def parse_stat(data: bytes, path: str = "stat") -> tuple[str, str, int, int]:
    """``/proc/PID/stat`` -> ``(comm, state, ppid, starttime)``.

    comm may hold spaces and parentheses, so it ends at the LAST ``)`` (proc(5)).

    >>> parse_stat(b"42 (a) b)) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9876 0 0")
    ('a) b)', 'S', 1, 9876)
    """
    start = data.find(b"(")
    end = data.rfind(b")")
    fields = data[end + 2:].split()
    if start < 0 or end < start or len(fields) < 20:
        raise ParseError(path, 1, data, "not a /proc/PID/stat line")
    try:
        # Field 3 (state) is fields[0], so field N is fields[N - 3]: ppid is 4, starttime 22.
        return (data[start + 1:end].decode("utf-8", "surrogateescape"),
                fields[0].decode("ascii"), int(fields[1]), int(fields[19]))
    except (ValueError, UnicodeDecodeError):
        raise ParseError(path, 1, data, "bad number in /proc/PID/stat") from None


def parse_status_uid(data: bytes, path: str = "status") -> int:
    """The real UID from ``/proc/PID/status`` (``Uid:\\t1000\\t1000\\t1000\\t1000`` -> 1000)."""
    at = data.find(b"\nUid:")
    if at < 0:
        raise ParseError(path, 0, data[:80], "no Uid: line")
    try:
        return int(data[at + 5:data.index(b"\n", at + 1)].split()[0])
    except (ValueError, IndexError):
        raise ParseError(path, data.count(b"\n", 0, at) + 2, data[at + 1:at + 60]) from None


def parse_cmdline(data: bytes) -> list[str]:
    """``/proc/PID/cmdline`` -> argv. Arguments end in NUL; ``b""`` (kernel thread, zombie) -> [].

    >>> parse_cmdline(b"sleep\\x0030\\x00")
    ['sleep', '30']

    A process that rewrote its argv area (setproctitle) may leave no NUL: that is one argument.
    """
    if not data:
        return []
    if data.endswith(b"\0"):
        data = data[:-1]
    return data.decode("utf-8", "surrogateescape").split("\0")


def parse_cgroup(data: bytes | str, path: str = "cgroup"
                 ) -> tuple[str | None, str | None, Container | None]:
    """``/proc/PID/cgroup`` -> ``(cgroup path, systemd unit, container)``.

    Lines are ``hierarchy-ID:controllers:path`` (cgroups(7)); ``0::path`` is the v2 hierarchy.
    The path reported is the v2 one when it is not ``/``, else the ``name=systemd`` one, else the
    first v1 path that is not ``/``. The unit is the innermost ``.service`` or ``.scope`` in it.

    >>> parse_cgroup(b"0::/system.slice/sshd.service\\n")[:2]
    ('/system.slice/sshd.service', 'sshd.service')
    """
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    v2 = named = v1 = None
    others = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        hierarchy, _, rest = line.partition(":")
        controllers, sep, cg_path = rest.partition(":")
        if not sep or not hierarchy.isdigit():
            raise ParseError(path, line_no, line, "not hierarchy:controllers:path")
        if hierarchy == "0" and not controllers:
            v2 = cg_path
        elif controllers == "name=systemd":
            named = cg_path
        elif v1 is None and cg_path != "/":
            v1 = cg_path
        others.append(cg_path)
    chosen = next((p for p in (v2, named, v1) if p and p != "/"), v2 or named or v1)
    if chosen is None:
        return None, None, None
    unit, container = _classify(chosen)
    if container is None:
        # A v1 controller may place the process in a container that the chosen path does not.
        container = next((c for c in (_classify(p)[1] for p in others) if c), None)
    return chosen, unit, container


def _is_hex(s: str, length: int = 0) -> bool:
    return len(s) >= 12 and (not length or len(s) == length) and _HEX.issuperset(s)


def _prefixed_id(comp: str, prefix: str) -> str | None:
    """``docker-<hex>.scope`` with prefix ``docker-`` -> ``<hex>``; anything else -> None."""
    if not comp.startswith(prefix):
        return None
    ident = comp[len(prefix):].removesuffix(".scope")
    return ident if _is_hex(ident) else None


# Scope prefixes container engines give the cgroup of a container when systemd manages cgroups.
# docker: docs.docker.com "cgroup driver"; podman: libpod (and libpod-payload- for quadlets);
# containerd's CRI plugin and CRI-O: SystemdCgroup; conmon scopes are monitors, not containers.
_SCOPE_PREFIXES = (("docker-", "docker"), ("libpod-payload-", "podman"), ("libpod-", "podman"),
                   ("cri-containerd-", "containerd"), ("crio-", "cri-o"))
# Directory names under which the cgroupfs driver puts <container id>.
_PARENT_DIRS = {"docker": "docker", "lxc": "lxc"}


def _pod_uid(comp: str) -> str | None:
    """``pod<uid>`` (cgroupfs) or ``kubepods-<qos>-pod<uid_with_underscores>.slice`` (systemd)."""
    at = comp.rfind("pod", 0 if comp.startswith("pod") else 1)
    if at < 0 or (at and comp[at - 1] != "-"):
        return None
    uid = comp[at + 3:].partition(".")[0].replace("_", "-")
    return uid if len(uid) == 36 and uid.count("-") == 4 else None


def _container_in(comp: str, prev: str, pod: str | None) -> Container | None:
    """The container one path component names (``prev`` is the component above it)."""
    if ":cri-containerd:" in comp:  # containerd with SystemdCgroup on cgroup v1
        return Container(comp.rpartition(":")[2], "containerd", pod)
    if comp.startswith("lxc.payload."):
        return Container(comp[len("lxc.payload."):], "lxc", pod)
    if prev in _PARENT_DIRS and (prev == "lxc" or _is_hex(comp, 64)):
        return Container(comp, _PARENT_DIRS[prev], pod)
    if pod is not None and _is_hex(comp, 64):  # cgroupfs driver: the runtime is not named
        return Container(comp, "kubernetes", pod)
    if comp.startswith(("libpod-conmon-", "crio-conmon-")):
        return None
    for prefix, runtime in _SCOPE_PREFIXES:
        if (ident := _prefixed_id(comp, prefix)) is not None:
            return Container(ident, runtime, pod)
    return None


def _classify(cg_path: str) -> tuple[str | None, Container | None]:
    """The innermost systemd unit and container named by the components of a cgroup path."""
    unit = container = pod = None
    in_pods = "kubepods" in cg_path
    prev = ""
    for comp in cg_path.split("/"):
        if comp.endswith((".service", ".scope")):
            unit = comp
        if in_pods and pod is None and (pod := _pod_uid(comp)) is not None:
            container = Container(None, "kubernetes", pod)
        found = _container_in(comp, prev, pod)
        if found is not None:
            container = found
        prev = comp
    return unit, container


def _reason(err: OSError) -> str:
    if err.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED
    if err.errno in (errno.ENOENT, errno.ESRCH):
        return VANISHED
    return (err.strerror or "error").lower()


def read_exe(procfs: ProcFS, pid: int, target: str) -> tuple[str, bool]:
    """``(path, deleted)`` of the file a process runs, ``target`` being the text of its
    /proc/PID/exe link.

    Decided from the file, not the text: /proc/PID/exe opens the very inode the process runs,
    which has no links left once the file is deleted (or replaced by an upgrade). The
    `` (deleted)`` that d_path() appends to an unlinked name cannot tell alone: a file may be
    named ``x (deleted)``, so the suffix is dropped only when that name, seen from the
    process's root (its container), is not this file. Only where the link cannot be followed
    (a recorded /proc tree's plain symlink; the process gone meanwhile) does the text decide.
    """
    try:
        st = os.stat(procfs.path(f"{pid}/exe"))
    except OSError:
        deleted = target.endswith(_DELETED)
        return (target[:-len(_DELETED)] if deleted else target), deleted
    if target.endswith(_DELETED):
        try:
            named = os.stat(procfs.path(f"{pid}/root") + target)
        except OSError:
            named = None
        if named is None or (named.st_dev, named.st_ino) != (st.st_dev, st.st_ino):
            target = target[:-len(_DELETED)]
    return target, st.st_nlink == 0


def _read_one(procfs: ProcFS, pid: int, cache: ProcessCache) -> ProcessInfo:
    """Read one process (no ancestry), or return the cached record if it is still the same one."""
    rel = f"{pid}/"
    try:
        name, state, ppid, start = parse_stat(procfs.read_bytes(rel + "stat"),
                                              procfs.path(rel + "stat"))
    except OSError as err:
        return ProcessInfo.unread(pid, _reason(err))
    except ParseError as err:
        return ProcessInfo.unread(pid, f"unparsable {err.path}")
    key = (pid, start)
    hit = cache.get(key)
    # Same PID and start time is the same process; a changed name or parent means it ran exec or
    # was re-parented since, so what we know of it is stale.
    if hit is not None and hit.name == name and hit.ppid == ppid:
        return hit
    info = ProcessInfo(pid, name, state=state, ppid=ppid, start_time=start)
    try:  # one batch: status, exe, cmdline, cgroup
        info.uid = parse_status_uid(procfs.read_bytes(rel + "status"), procfs.path(rel + "status"))
        try:
            exe = procfs.readlink(rel + "exe")
        except OSError as err:
            # ENOENT with the process still there: a kernel thread or a zombie has no exe.
            if err.errno != errno.ENOENT:
                info.unreadable = _reason(err)
        else:
            info.exe, info.exe_deleted = read_exe(procfs, pid, exe)
        info.cmdline = parse_cmdline(procfs.read_bytes(rel + "cmdline"))
        info.cgroup, info.unit, info.container = parse_cgroup(
            procfs.read_bytes(rel + "cgroup"), procfs.path(rel + "cgroup"))
    except OSError as err:
        info.unreadable = _reason(err)
        return info  # not cached: a later pass may read it whole
    except ParseError as err:  # one odd file must not end the listing; say what it was
        info.unreadable = f"unparsable {err.path}"
        return info
    # Right after execve the kernel has set the new name and exe before the new argv (cmdline
    # reads empty for that moment): keep such a record out of the cache so it is read again.
    if info.cmdline or info.exe is None:
        cache[key] = info
    return info


def _fill_ancestry(procfs: ProcFS, info: ProcessInfo, cache: ProcessCache) -> None:
    """Set ``ancestry`` on ``info`` and on each parent walked, reusing any already known."""
    walk = [info]
    seen = {info.pid}
    tail: list[tuple[int, str | None]] = []
    while True:
        cur = walk[-1]
        if cur is not info and cur.ancestry is not None:
            tail = cur.ancestry
            break
        # PPid 0: PID 1, a kernel thread, or a parent outside our PID namespace (the edge).
        if cur.ppid is None or cur.ppid <= 0 or cur.pid == 1 or cur.ppid in seen:
            break
        seen.add(cur.ppid)
        parent = _read_one(procfs, cur.ppid, cache)
        walk.append(parent)
    if walk[-1].ancestry is None:
        walk[-1].ancestry = tail
    for i in range(len(walk) - 2, -1, -1):
        parent = walk[i + 1]
        walk[i].ancestry = [(parent.pid, parent.name), *(parent.ancestry or ())]


def read_process(procfs: ProcFS, pid: int, *, ancestry: bool = False,
                 cache: ProcessCache | None = None) -> ProcessInfo:
    """Everything -b and -v show about ``pid``. Never raises for a process that is gone or
    forbidden: the record says so in ``unreadable``. ``cache`` (a dict, kept by the caller
    across calls and interval passes) holds records by ``(pid, start_time)``."""
    if cache is None:
        cache = {}
    info = _read_one(procfs, pid, cache)
    if ancestry and info.ancestry is None and info.start_time is not None:
        _fill_ancestry(procfs, info, cache)
    return info


def read_processes(procfs: ProcFS, pids: Iterable[int], *, ancestry: bool = False,
                   cache: ProcessCache | None = None) -> dict[int, ProcessInfo]:
    """``read_process`` for each distinct PID of the owner map: ``{pid: ProcessInfo}``."""
    if cache is None:
        cache = {}
    return {pid: read_process(procfs, pid, ancestry=ancestry, cache=cache) for pid in set(pids)}
