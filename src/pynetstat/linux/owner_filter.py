"""Owner conditions (``--pid``, ``--process``, ``--unit``, ``--container``; issue 14): walk the
fd tables of only the processes that can meet them, then keep the sockets they hold.

A socket meets a condition when one of its holders does (``model.filters.Owners.holds``). With
every condition positive, a holder that meets none of them cannot make a socket meet one, so the
walk reads only the fd tables of the processes that meet at least one: for ``--pid`` the PIDs
given (no other process is even listed); for the others, each process's cheap files first
(``comm`` and the ``exe`` link for ``--process``, ``cgroup`` for ``--unit`` and ``--container``)
and the fd tables of the matching ones. A negated condition ("held by no nginx") needs every
holder of every socket: then every fd table is read, as for ``-o``.

The owners found are the holders among the processes walked: with positive conditions only, a
socket also held by a process that meets none shows the ones that do.
"""

from __future__ import annotations

import os
from itertools import compress

from pynetstat.linux.fdscan import fd_tables, list_pids, socket_inodes, socket_links
from pynetstat.linux.owners import OwnerMap, read_comm
from pynetstat.model.process import ProcessInfo
from pynetstat.model.sockets import ScanReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from pynetstat.model.filters import Owners
    from pynetstat.model.sockets import SocketBatch


class _Details(dict):  # type: ignore[type-arg]  # dict[int, ProcessInfo | None] fails at run time on 3.9
    """``pid -> ProcessInfo`` with only what the conditions look at, read on first use; ``None``
    for a process that could not be read (it then matches only by PID)."""

    def __init__(self, proc_root: str, kinds: set[str]):
        super().__init__()
        self.proc_root = proc_root
        self.names = "process" in kinds
        self.cgroup = bool(kinds & {"unit", "container"})

    def __missing__(self, pid: int) -> ProcessInfo | None:
        info = self[pid] = self._read(pid)
        return info

    def _read(self, pid: int) -> ProcessInfo | None:
        info = ProcessInfo(pid)
        root = f"{self.proc_root}/{pid}"
        if self.names:
            info.name = read_comm(self.proc_root, pid)
            if info.name is None:
                return None
            try:
                info.exe = os.readlink(f"{root}/exe")  # its file name is all a pattern sees
            except OSError:
                pass  # a kernel thread, or another user's process: the name alone
        if self.cgroup:
            from pynetstat.errors import ParseError
            from pynetstat.linux.process import parse_cgroup
            from pynetstat.linux.procfs import read_file

            try:
                info.cgroup, info.unit, info.container = parse_cgroup(read_file(f"{root}/cgroup"))
            except (OSError, ParseError):
                return None
        return info


class OwnerSelect:
    """The walk for a selection's owner conditions (``owners``: the ``OwnerMap`` of the processes
    walked) and ``select(batch)``: the sockets that meet every condition."""

    def __init__(self, proc_root: str, terms: tuple[Owners, ...]):
        self.terms = terms
        self.details = _Details(proc_root, {t.kind for t in terms})
        report = ScanReport()
        self.owners = OwnerMap(report)
        # Only a condition on names, units or containers, or a negated one, lists /proc.
        listing = any(t.negated or t.kind != "pid" for t in terms)
        listed = list_pids(proc_root, report) if listing else None
        if listing and listed is None:
            walk: list[int] = []  # /proc cannot be listed (counted as denied)
        elif any(t.negated for t in terms):
            assert listed is not None  # a negated condition lists /proc (listing)
            walk = listed
        else:
            walk = sorted(set().union(*(self._meeting(t, listed) for t in terms)))
        add_process = self.owners.add_process
        # With every condition positive, the sockets of the processes walked are all the filter
        # can keep: when they are few, their ends narrow the kernel's dump (``ends``).
        held: list[tuple[int, list[str]]] | None = None if any(t.negated for t in terms) else []
        for pid, _pdir, fdir, fds in fd_tables(proc_root, walk, report):
            if held is None:
                add_process(pid, socket_inodes(fdir, fds, report))
                continue
            links = socket_links(fdir, fds, report)
            add_process(pid, [int(link[8:-1]) for link in links.values() if link[8:-1].isdigit()])
            held.append((pid, list(links)))
        self.ends = None if held is None else socket_ends(held)
        # holders -> does a socket held by them meet every condition; one entry per process for
        # the common single holder, the empty tuple for a socket no walked process holds
        self._memo: dict[tuple[int, ...], bool] = {}

    def _meeting(self, term: Owners, listed: list[int] | None) -> set[int]:
        """The processes that meet a positive condition."""
        if term.kind == "pid":
            # Only the PIDs given, not a listing of /proc: a PID no process has is not one that
            # vanished during the walk, so it is not counted as one.
            root = self.details.proc_root
            pids: frozenset[int] = term.values  # type: ignore[assignment]  # kind "pid": PIDs
            return {pid for pid in pids if os.path.isdir(f"{root}/{pid}")}
        details = self.details
        assert listed is not None  # a condition on names, units or containers lists /proc
        return {pid for pid in listed if term.matches(pid, details[pid])}

    def _holds(self, pids: tuple[int, ...]) -> bool:
        hit = self._memo.get(pids)
        if hit is None:
            if any(t.kind != "pid" for t in self.terms):
                processes = [(pid, self.details[pid]) for pid in pids]
            else:
                processes = [(pid, None) for pid in pids]  # a PID is all a --pid looks at
            hit = self._memo[pids] = all(t.holds(processes) for t in self.terms)
        return hit

    def keeps(self, inodes: Sequence[int]) -> list[bool]:
        """For each socket inode: do its holders meet every condition? (Any kind of socket: the
        net-tools face asks it of RAW and UNIX sockets too.)"""
        first, more = self.owners.first, self.owners.more
        holds = self._holds
        single = {}  # pid (or None) -> kept, so that most sockets cost two dict lookups in C
        for pid in set(map(first.get, inodes)):
            single[pid] = holds(() if pid is None else (pid,))
        keep = list(map(single.__getitem__, map(first.get, inodes)))
        if more and not more.keys().isdisjoint(inodes):
            for i, inode in enumerate(inodes):
                if inode in more:
                    keep[i] = holds(self.owners.pids(inode))
        return keep

    def select(self, batch: SocketBatch) -> SocketBatch | None:
        """The batch's sockets whose holders meet every condition (the batch itself if all do;
        ``None`` if none does)."""
        keep = self.keeps(batch.inode)
        if all(keep):
            return batch
        positions = list(compress(range(len(keep)), keep))
        return batch.take(positions) if positions else None


# The most sockets whose ends go into the kernel's program: the kernel runs it on every socket
# of the table, each end one more condition, so a long one would cost more than the dump it
# saves. Past this, the whole table is dumped and the walk's inodes pick the sockets.
MAX_ENDS = 64
_PIDFD_GETFD = 438  # the syscall's number, the same on every architecture (Linux 5.6)
# (AF_*, SOCK_*, IPPROTO_*) -> (protocol, family); an MPTCP socket reports IPPROTO_MPTCP (262)
_INET = {(2, 1, 6): ("tcp", 4), (10, 1, 6): ("tcp", 6), (2, 2, 17): ("udp", 4),
         (10, 2, 17): ("udp", 6), (2, 1, 262): ("mptcp", 4), (10, 1, 262): ("mptcp", 6)}


def socket_ends(held: list[tuple[int, list[str]]]
                ) -> dict[tuple[str, int], list[tuple[str, int, str | None, int]]] | None:
    """``{(protocol, family): [(local address, port, foreign address or None, port), ...]}``:
    the ends of the TCP and UDP sockets the processes hold (``held``: PID and the fds that are
    sockets), asked of each socket itself through a copy of its descriptor (``pidfd_getfd``, which
    needs the right to ptrace the process: root, or the same user where ptrace is allowed).
    ``None`` when there are more than ``MAX_ENDS``, or one could not be asked: the caller then
    dumps every socket."""
    if sum(len(fds) for _, fds in held) > MAX_ENDS:
        return None
    import ctypes
    import socket

    syscall = ctypes.CDLL(None, use_errno=True).syscall
    ends: dict[tuple[str, int], list[tuple[str, int, str | None, int]]] = {}
    for pid, fds in held:
        try:
            pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):  # gone, or a kernel older than 5.3
            return None
        try:
            for fd in fds:
                copy = syscall(_PIDFD_GETFD, pidfd, int(fd), 0)
                if copy < 0:
                    return None
                try:
                    sock = socket.socket(fileno=copy)
                except OSError:
                    os.close(copy)
                    raise
                with sock:
                    kind = _INET.get((sock.family, sock.type, sock.proto))
                    if kind is None:
                        continue
                    local = sock.getsockname()
                    try:
                        remote = sock.getpeername()
                    except OSError:  # ENOTCONN: a listener, an unconnected UDP socket
                        remote = (None, 0)
                ends.setdefault(kind, []).append((_host(local[0]), local[1],
                                                  remote[0] and _host(remote[0]), remote[1]))
        except OSError:
            return None
        finally:
            os.close(pidfd)
    return ends


def _host(text: str) -> str:
    """``"fe80::1%eth0"`` -> ``"fe80::1"``: Python names a link-local address with its zone."""
    return text.partition("%")[0]
