"""Find every network namespace on the host, with its processes, bind mounts and label.

Sources, merged by namespace (nsfs device and inode, as ``stat`` gives them):

* one walk of /proc: ``stat(/proc/PID/ns/net)`` for every process gives each namespace its PIDs
  (one walk for all namespaces; threads are not walked, see ``discover``);
* our mount table (/proc/self/mountinfo): every ``nsfs`` mount whose root is ``net:[INODE]``.
  That covers ``ip netns`` (/run/netns/NAME), Docker (/run/docker/netns/ID), Podman and CNI
  (/run/netns/netns-UUID, cni-UUID) and any bind mount of /proc/PID/ns/net anywhere, including
  namespaces no process is in any more.

The host's namespace is defined as the initial one (``init_net``), which every kernel thread is
in: that of PID 2 when PID 2 is ``kthreadd`` (parent 0), which it is in the initial PID
namespace. Otherwise (we run in a PID namespace of our own, where PID 2 is an ordinary process)
it is the namespace of PID 1 of the /proc we read, the container's init: from inside a PID
namespace the machine's namespace cannot be named, and a mount namespace of our own hides the
host's mounts. PID 2 comes first because PID 1 may refuse the ptrace access check that stat of
its ns link makes (seen here: a non-dumpable init outside our capability set).

Labels come from the cgroup of a process in the namespace (``process.parse_cgroup``: container ID,
runtime, pod UID) and the runtime's files (``runtimes.RuntimeFiles``: the names).
"""

from __future__ import annotations

import errno
import os
import re

from pynetstat.errors import ParseError
from pynetstat.linux.process import parse_cgroup, parse_stat
from pynetstat.linux.procfs import ProcFS
from pynetstat.linux.runtimes import RuntimeFiles
from pynetstat.model.netns import Discovery, NetNamespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

# Where ``ip netns add NAME`` mounts a namespace (iproute2 ip/ipnetns.c, NETNS_RUN_DIR); /var/run
# is a link to /run on current systems, and mountinfo shows the resolved path.
NETNS_DIRS = ("/run/netns", "/var/run/netns")
# How many processes of a namespace have their cgroup read for a container: the first that names
# one decides, and a container's processes share its cgroup.
_CGROUP_TRIES = 8
_OCTAL = re.compile(rb"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    r"""mountinfo escapes space, tab, newline and backslash as ``\ooo`` (fs/proc_namespace.c
    ``show_mountinfo`` -> ``mangle``): ``b"/run/my\\040ns"`` -> ``"/run/my ns"``."""
    return os.fsdecode(_OCTAL.sub(lambda m: bytes((int(m.group(1), 8),)), field))


def parse_mountinfo_netns(data: bytes, path: str = "mountinfo") -> Iterator[tuple[int, str]]:
    """``(inode, mount point)`` of each network namespace mounted, from /proc/PID/mountinfo.

    Fields (proc(5)): ID, parent ID, major:minor, root, mount point, options, optional fields,
    ``-``, fstype, source, super options. For an nsfs mount the root names the namespace.

    >>> list(parse_mountinfo_netns(b"612 30 0:4 net:[4026532456] /run/netns/blue rw shared:5"
    ...                            b" - nsfs nsfs rw\\n"))
    [(4026532456, '/run/netns/blue')]

    Mounts of other namespace types (``mnt:[...]``, ``uts:[...]``) are skipped.
    """
    for line_no, line in enumerate(data.split(b"\n"), 1):
        if not line:
            continue
        head, sep, tail = line.partition(b" - ")
        fields = head.split(b" ")
        if not sep or len(fields) < 6:
            raise ParseError(path, line_no, line, "not a mountinfo line")
        if tail.split(b" ", 1)[0] != b"nsfs" or not fields[3].startswith(b"net:["):
            continue
        try:
            inode = int(fields[3][5:-1])
        except ValueError:
            raise ParseError(path, line_no, line, "bad nsfs root") from None
        yield inode, _unescape(fields[4])


def netns_name(mount_point: str) -> str | None:
    """The ``ip netns`` name of a mount point: ``/run/netns/blue`` -> ``blue``; else None."""
    parent, _, name = mount_point.rpartition("/")
    return name if parent in NETNS_DIRS and name else None


class _Walk:
    """Namespaces by ``(dev, inode)``, as the walk and the mount table find them."""

    def __init__(self) -> None:
        self.found: dict[tuple[int, int], NetNamespace] = {}
        self.denied = 0
        self.vanished = 0

    def get(self, dev: int, inode: int) -> NetNamespace:
        ns = self.found.get((dev, inode))
        if ns is None:
            ns = self.found[(dev, inode)] = NetNamespace(inode, dev)
        return ns

    def processes(self, proc: ProcFS) -> None:
        for name in proc.listdir():
            if not name.isdigit():
                continue
            try:
                st = os.stat(proc.path(f"{name}/ns/net"))
            except OSError as err:
                if err.errno in (errno.ENOENT, errno.ESRCH):
                    self.vanished += 1
                else:  # EACCES: ptrace access mode check (another user's process), hidepid
                    self.denied += 1
                continue
            self.get(st.st_dev, st.st_ino).pids.append(int(name))

    def mounts(self, proc: ProcFS, nsfs_dev: int | None) -> None:
        for inode, point in parse_mountinfo_netns(proc.read_bytes("self/mountinfo"),
                                                  proc.path("self/mountinfo")):
            try:
                st = os.stat(point)
            except OSError:
                # A directory we may not search: the mount table still names the namespace,
                # and every nsfs file shares one device.
                if nsfs_dev is None:
                    continue
                dev = nsfs_dev
            else:
                if st.st_ino != inode:
                    continue  # something else was mounted over it since
                dev = st.st_dev
            ns = self.get(dev, inode)
            if point not in ns.mounts:
                ns.mounts.append(point)


def _host_key(proc: ProcFS) -> tuple[int, int] | None:
    """``(dev, inode)`` of the host's namespace, as the module's docstring defines it."""
    try:
        name, _state, ppid, _start = parse_stat(proc.read_bytes("2/stat"))
    except (OSError, ParseError):
        name, ppid = None, None
    if name == "kthreadd" and ppid == 0:
        key = _stat_key(proc.path("2/ns/net"))
        if key is not None:
            return key
    return _stat_key(proc.path("1/ns/net"))


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _label(ns: NetNamespace, proc: ProcFS, runtimes: RuntimeFiles) -> None:
    """Set ``netns_name``, ``container``, ``container_name``, ``pod_name`` from its mounts, its
    processes' cgroups and the runtime's files."""
    ns.netns_name = next((n for n in map(netns_name, ns.mounts) if n), None)
    if ns.host:
        return  # the host's processes run in many cgroups; none of them names the namespace
    for pid in ns.pids[:_CGROUP_TRIES]:
        try:
            _path, _unit, container = parse_cgroup(proc.read_bytes(f"{pid}/cgroup"))
        except (OSError, ParseError):
            continue
        if container is not None and (ns.container is None or container.id):
            ns.container = container  # a pod's monitor (conmon) names the pod alone: go on
            if container.id:
                break
    if ns.container is not None:
        names = runtimes.names(ns.container)
        ns.container_name, ns.pod_name = names.name, names.pod


def discover(proc: ProcFS | None = None, runtimes: RuntimeFiles | None = None) -> Discovery:
    """Every network namespace that a process of ``proc`` is in or that our mount table mounts.

    Per process, not per thread: a thread that entered another namespace alone (setns in one
    thread) is not seen; walking /proc/PID/task/* would cost a stat per thread.
    """
    if proc is None:
        proc = ProcFS()
    if runtimes is None:
        runtimes = RuntimeFiles()
    walk = _Walk()
    walk.processes(proc)
    host_key = _host_key(proc)
    own = _stat_key(proc.path("thread-self/ns/net"))
    notes = []
    try:
        walk.mounts(proc, own[0] if own else None)
    except (OSError, ParseError) as err:
        notes.append(f"mount table not read: {err}")
    host = walk.found.get(host_key) if host_key else None
    if host is not None:
        host.host = True
    for ns in walk.found.values():
        ns.pids.sort()
        ns.mounts.sort()
        _label(ns, proc, runtimes)
    notes.extend(runtimes.errors)
    spaces = sorted(walk.found.values(), key=lambda ns: (not ns.host, ns.inode))
    return Discovery(spaces, host, walk.denied, walk.vanished, notes)


def find_target(found: Discovery, target: str) -> list[NetNamespace]:
    """The namespaces ``--netns TARGET`` may mean; more than one means it is ambiguous.

    TARGET is a PID (its namespace); a path starting with ``/``, ``./`` or ``../``
    (``/proc/PID/ns/net``, ``/run/docker/netns/ID``, any nsfs file; one that discovery did not
    list comes back as a new record with that mount); an ``ip netns`` name, a container or pod
    name; or a prefix of a container ID, of at least 4 digits (docker takes any unique prefix;
    here a short word must not pass for an ID). Names are tried first: a name that is also some
    ID's prefix means the name.
    """
    spaces = found.namespaces
    if target.isdigit():
        pid = int(target)
        return [ns for ns in spaces if pid in ns.pids]
    if target.startswith(("/", "./", "../")):  # not "shop/web": a pod's name has a slash too
        key = _stat_key(target)
        if key is None:
            return []
        hits = [ns for ns in spaces if (ns.dev, ns.inode) == key]
        return hits or [NetNamespace(key[1], key[0], mounts=[target])]
    hits = [ns for ns in spaces if target in (ns.netns_name, ns.container_name, ns.pod_name)]
    if hits or len(target) < 4:
        return hits
    return [ns for ns in spaces
            if ns.container is not None and (ns.container.id or "").startswith(target)]
