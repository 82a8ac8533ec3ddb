"""Which processes hold which sockets: one pass over /proc/*/fd, only when owners are asked for.

Every tool pays here. ``ss -p`` keeps its inode table in 256 hash buckets, so each lookup walks
a chain that grows with the number of sockets; a dict keeps the lookup O(1). The walk itself is
``fdscan``'s, shared with the interval cache (``owner_cache``).
"""

from __future__ import annotations

from pynetstat.linux.fdscan import fd_tables, list_pids, socket_inodes
from pynetstat.linux.procfs import read_file
from pynetstat.model.sockets import ScanReport


class OwnerMap:
    """``inode -> PIDs`` holding it. Most sockets have one owner, so the common case is one int
    in ``first``; only sockets shared by several processes (pre-fork servers, inherited fds) also
    have an entry in ``more``. That keeps 200,000 sockets to one small dict."""

    __slots__ = ("first", "more", "report")

    def __init__(self, report: ScanReport):
        self.first: dict[int, int] = {}
        self.more: dict[int, list[int]] = {}
        self.report = report

    def add(self, inode: int, pid: int) -> None:
        have = self.first.get(inode)
        if have is None:
            self.first[inode] = pid
        elif have != pid:
            extra = self.more.setdefault(inode, [])
            if pid not in extra:
                extra.append(pid)

    def discard(self, inode: int, pid: int) -> None:
        """``pid`` no longer holds ``inode`` (its other holders still do)."""
        extra = self.more.get(inode)
        if self.first.get(inode) == pid:
            if extra:
                self.first[inode] = extra.pop(0)
            else:
                del self.first[inode]
        elif extra and pid in extra:
            extra.remove(pid)
        if extra is not None and not extra:
            del self.more[inode]

    def add_process(self, pid: int, inodes: list[int]) -> None:
        """All socket inodes one process holds (a process may hold one socket on several fds)."""
        mine = dict.fromkeys(inodes, pid)
        if self.first.keys().isdisjoint(mine):
            self.first.update(mine)
        else:
            for inode in mine:
                self.add(inode, pid)

    def merge(self, other: OwnerMap) -> None:
        """Fold in a partial map made from other processes (a parallel scan)."""
        if self.first.keys().isdisjoint(other.first):
            self.first.update(other.first)
        else:
            for inode, pid in other.first.items():
                self.add(inode, pid)
        for inode, pids in other.more.items():
            for pid in pids:
                self.add(inode, pid)
        mine, theirs = self.report, other.report
        mine.processes += theirs.processes
        mine.denied += theirs.denied
        mine.vanished += theirs.vanished
        mine.fds_unreadable += theirs.fds_unreadable

    def pids(self, inode: int) -> tuple[int, ...]:
        """Every PID holding ``inode``, lowest first; ``()`` when none is visible."""
        first = self.first.get(inode)
        if first is None:
            return ()
        extra = self.more.get(inode)
        if extra is None:
            return (first,)
        return tuple(sorted([first, *extra]))


def scan_owners(proc_root: str) -> OwnerMap:
    """Walk ``<proc_root>/*/fd`` once (``fdscan``). Processes or fds that vanish mid-scan, and fd
    tables we may not read, are skipped and counted in the map's ``report``; nothing here raises
    for them.

    Most of the cost is the kernel's (``readlinkat`` on a /proc fd link is about 2 µs). Splitting
    the PIDs over two threads (``readlink`` releases the GIL) was measured here and gained nothing.
    """
    report = ScanReport()
    owners = OwnerMap(report)
    pids = list_pids(proc_root, report)
    if pids is not None:
        add_process = owners.add_process
        for pid, _pdir, fdir, fds in fd_tables(proc_root, pids, report):
            add_process(pid, socket_inodes(fdir, fds, report))
    return owners


def read_comm(proc_root: str, pid: int) -> str | None:
    """The short name of ``pid`` (``/proc/PID/comm``), undecodable bytes kept via surrogateescape;
    ``None`` when the process is gone or hidden."""
    try:
        raw = read_file(f"{proc_root}/{pid}/comm")
    except OSError:
        return None
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    return raw.decode("utf-8", "surrogateescape")
