"""Reach another network namespace: a netlink socket made inside it, or its /proc/PID/net.

A netlink socket belongs for life to the namespace of the thread that created it
(``net/netlink/af_netlink.c``: ``sock_net`` is set at ``socket()``), so the calling thread enters
the namespace (``setns(fd, CLONE_NEWNET)``) only around ``socket()`` and returns at once. Every
other read (owners, names, cgroups) stays in the host's /proc. The socket also holds a reference
to its namespace (``sk_alloc`` -> ``get_net``), so a namespace whose last process exits after
``reach`` still answers, with the sockets it has left. Only the calling thread moves
(setns(2) changes the namespace of the caller thread), and it always comes back: the way back is
an fd of /proc/thread-self/ns/net opened before leaving.

Entering needs CAP_SYS_ADMIN (in the user namespaces owning both namespaces). Without it, a
process's /proc/PID/net/* shows its namespace's sockets to whoever may read that process's /proc
directory, no entering needed: ``proc_net_root`` gives such a root, and ``reach`` says which
source each namespace got and why.
"""

from __future__ import annotations

import errno
import os

from pynetstat.linux.netlink import NETLINK_SOCK_DIAG, LiveNetlink, open_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _socket import socket
    from collections.abc import Callable
    from typing import NoReturn, TypeVar

    from pynetstat.linux.netlink import Request
    from pynetstat.model.netns import NetNamespace

    T = TypeVar("T")

CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h
_O_NS = os.O_RDONLY | os.O_CLOEXEC
_LIBC: dict[str, object] = {}  # the ctypes setns, loaded on first use (Python < 3.12 only)
# Why a namespace could not be entered, by errno.
NEEDS_CAP = "entering it needs CAP_SYS_ADMIN"
VANISHED = "it vanished"
OPEN_DENIED = "its namespace file may not be opened (permission denied)"
NO_HANDLE = "no process is in it and no bind mount of it is visible"
INVALID = "not a network namespace"


def _setns(fd: int, nstype: int) -> None:
    setns = getattr(os, "setns", None)  # Python >= 3.12
    if setns is not None:
        setns(fd, nstype)
        return
    fn = _LIBC.get("setns")
    if fn is None:
        import ctypes

        fn = _LIBC["setns"] = ctypes.CDLL(None, use_errno=True).setns
    if fn(fd, nstype) != 0:  # type: ignore[operator]
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _go_back(back: int) -> None:
    try:
        _setns(back, CLONE_NEWNET)
    except OSError:
        # Cannot happen with the privilege that let us leave. Were it to, this thread would read
        # another namespace's kernel from here on and label it as ours: stop instead.
        os.write(2, b"pynetstat: could not return to the original network namespace\n")
        os._exit(70)  # EX_SOFTWARE


def own_inode(proc: str = "/proc") -> int | None:
    """The inode of this thread's network namespace (its rows' interface names are ours), or
    None when it cannot be read."""
    try:
        return os.stat(f"{proc}/thread-self/ns/net").st_ino
    except OSError:
        return None


def call_in(ns_path: str, fn: Callable[[], T], *, inode: int | None = None,
            proc: str = "/proc") -> T:
    """``fn()`` run by this thread inside the network namespace ``ns_path`` (a bind mount or
    /proc/PID/ns/net); the thread is back in its own namespace when this returns or raises.

    ``inode``: the namespace meant; a path that now opens another one (the PID was reused)
    raises ``OSError(ESRCH)`` without entering. Errors: ``ENOENT``/``ESRCH`` (gone), ``EPERM``
    (no CAP_SYS_ADMIN), ``EACCES`` (the path may not be opened), ``EINVAL`` (not a net
    namespace).
    """
    back = os.open(f"{proc}/thread-self/ns/net", _O_NS)
    try:
        target = os.open(ns_path, _O_NS)
        try:
            if inode is not None and os.fstat(target).st_ino != inode:
                raise OSError(errno.ESRCH, f"{ns_path} is now another namespace")
            _setns(target, CLONE_NEWNET)
        finally:
            os.close(target)
        try:
            return fn()
        finally:
            _go_back(back)
    finally:
        os.close(back)


def open_netlink_in(ns_path: str, protocol: int, *, inode: int | None = None,
                    proc: str = "/proc") -> socket:
    """An ``AF_NETLINK`` socket of ``protocol`` bound for life to the namespace ``ns_path``."""
    return call_in(ns_path, lambda: open_socket(protocol), inode=inode, proc=proc)


def _candidates(ns: NetNamespace, proc: str) -> list[str]:
    """Paths that open ``ns``: its bind mounts (they outlive processes), then a few processes."""
    return ns.mounts + [f"{proc}/{pid}/ns/net" for pid in ns.pids[:4]]


def proc_net_root(ns: NetNamespace, proc: str = "/proc") -> str | None:
    """A /proc-like root whose ``net/`` is that of ``ns`` (``/proc/PID``: ``net/tcp`` resolves
    to /proc/PID/net/tcp), from a process still in it; ``None`` when none is. The PID is checked
    to be in ``ns`` now; a reader should check again after reading (the PID may be reused)."""
    for pid in ns.pids:
        root = f"{proc}/{pid}"
        try:
            if os.stat(f"{root}/ns/net").st_ino == ns.inode:
                return root
        except OSError:
            continue
    return None


class Access:
    """How one namespace can be read.

    ``source`` is ``"netlink"`` (``netlink`` is a ``LiveNetlink`` whose sockets live in it),
    ``"proc"`` (``proc_root`` is a /proc-like root, see ``proc_net_root``) or ``None``;
    ``why`` says why netlink could not be had (``None`` when it could).
    """

    __slots__ = ("namespace", "source", "netlink", "proc_root", "why")

    def __init__(self, namespace: NetNamespace, source: str | None, netlink: LiveNetlink | None
                 = None, proc_root: str | None = None, why: str | None = None):
        self.namespace = namespace
        self.source = source
        self.netlink = netlink
        self.proc_root = proc_root
        self.why = why

    def __repr__(self) -> str:
        return f"Access({self.namespace.label!r}, {self.source!r}, why={self.why!r})"


def _why(err: OSError) -> str:
    if err.errno == errno.EPERM:
        return NEEDS_CAP
    if err.errno in (errno.ENOENT, errno.ESRCH):
        return VANISHED
    if err.errno == errno.EACCES:
        return OPEN_DENIED
    if err.errno == errno.EINVAL:  # setns: the file is another type of namespace
        return INVALID
    return (err.strerror or str(err)).lower()


def reach(ns: NetNamespace, proc: str = "/proc", protocol: int = NETLINK_SOCK_DIAG) -> Access:
    """Open a ``protocol`` netlink socket in ``ns`` now (so that the namespace is held and a
    refusal is known before any output), else find its /proc fallback. Never raises for a
    namespace that is gone or forbidden: the ``Access`` says so."""
    try:
        if os.stat(f"{proc}/thread-self/ns/net").st_ino == ns.inode:
            return Access(ns, "netlink", LiveNetlink())  # our own: nothing to enter
    except OSError:
        pass
    why = NO_HANDLE
    for path in _candidates(ns, proc):
        try:
            first = open_netlink_in(path, protocol, inode=ns.inode, proc=proc)
        except OSError as err:
            why = _why(err)
            if err.errno == errno.EPERM:
                break  # any other path of it would be refused the same way
            continue
        return Access(ns, "netlink", LiveNetlink(_Opener(path, ns.inode, proc, {protocol: first})))
    root = proc_net_root(ns, proc)
    return Access(ns, "proc" if root else None, proc_root=root, why=why)


class _Opener:
    """``LiveNetlink``'s opener for one namespace: the socket ``reach`` opened first, then new
    ones made inside the namespace through the same path."""

    __slots__ = ("path", "inode", "proc", "ready")

    def __init__(self, path: str, inode: int, proc: str, ready: dict[int, socket]):
        self.path = path
        self.inode = inode
        self.proc = proc
        self.ready = ready

    def __call__(self, protocol: int) -> socket:
        sock = self.ready.pop(protocol, None)
        if sock is not None:
            return sock
        return open_netlink_in(self.path, protocol, inode=self.inode, proc=self.proc)


class Unreachable:
    """The netlink source of a namespace that could not be entered: every dump says why, so each
    collector falls back to the namespace's /proc/PID/net files and notes the reason."""

    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why

    def dump(self, request: Request) -> NoReturn:
        from pynetstat.errors import BackendUnavailable

        raise BackendUnavailable(f"{request.key}: {self.why}")

    def close(self) -> None:
        """Nothing was opened."""


def net_reader(ns: NetNamespace, path: str, proc: str = "/proc") -> Callable[[str], bytes]:
    """``read(rel)`` -> the bytes of /proc's ``rel`` (``net/snmp``) as ``ns`` shows it, read by
    this thread from inside ``ns`` (entered through ``path``): for a namespace that no process
    is in, whose /proc/PID/net cannot be named. /proc/thread-self/net is the calling thread's
    namespace's (``get_proc_task_net`` reads the task's nsproxy at open)."""
    from pynetstat.linux.procfs import read_file

    def read(rel: str) -> bytes:
        return call_in(path, lambda: read_file(f"{proc}/thread-self/{rel}"), inode=ns.inode,
                       proc=proc)
    return read
