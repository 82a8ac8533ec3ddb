"""Which processes hold which sockets: one pass over /proc/*/fd, only when owners are asked for.

Every tool pays here. ``ss -p`` keeps its inode table in 256 hash buckets, so each lookup walks
a chain that grows with the number of sockets; a dict keeps the lookup O(1). The pass opens each
``/proc/PID/fd`` once and reads every link relative to that directory descriptor
(``readlinkat``), so the kernel resolves a short name rather than a whole path per fd.
"""

from __future__ import annotations

import os

from pynetstat.linux.procfs import hidepid, read_file
from pynetstat.model.sockets import ScanReport

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


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
    """Walk ``<proc_root>/*/fd`` once. Processes or fds that vanish mid-scan, and fd tables we may
    not read, are skipped and counted in the map's ``report``; nothing here raises for them.

    Most of the cost is the kernel's (``readlinkat`` on a /proc fd link is about 2 µs). Splitting
    the PIDs over two threads (``readlink`` releases the GIL) was measured here and gained nothing.
    """
    report = ScanReport()
    owners = OwnerMap(report)
    try:
        entries = os.listdir(proc_root)
    except OSError:
        report.denied += 1
        return owners
    pids = [name for name in entries if name.isdigit()]
    if os.geteuid() != 0:  # hidepid hides nothing from root
        report.hidepid = hidepid(proc_root)
    _scan(proc_root, pids, owners, report)
    return owners


def _scan(proc_root: str, pids: list[str], owners: OwnerMap, report: ScanReport) -> None:
    readlink = os.readlink
    for name in pids:
        pid = int(name)
        try:
            dfd = os.open(f"{proc_root}/{name}/fd", _O_DIR)
        except PermissionError:
            report.denied += 1  # another user's process (as non-root), or /proc mounted hidepid
            continue
        except OSError:
            report.vanished += 1  # ENOENT/ESRCH: the process exited since listdir
            continue
        try:
            try:
                fds = os.listdir(dfd)
            except PermissionError:
                report.denied += 1
                continue
            except OSError:
                report.vanished += 1
                continue
            report.processes += 1
            try:
                links = [readlink(fd, dir_fd=dfd) for fd in fds]
            except OSError:
                links = _read_links_one_by_one(dfd, fds, report)
            inodes = []
            for link in links:
                if link.startswith("socket:["):
                    try:
                        inodes.append(int(link[8:-1]))
                    except ValueError:
                        report.fds_unreadable += 1
            owners.add_process(pid, inodes)
        finally:
            os.close(dfd)


def _read_links_one_by_one(dfd: int, fds: list[str], report: ScanReport) -> list[str]:
    """The slow path, when an fd closed (or could not be read) during the fast one."""
    links = []
    for fd in fds:
        try:
            links.append(os.readlink(fd, dir_fd=dfd))
        except FileNotFoundError:
            report.vanished += 1  # the fd was closed between listdir and readlink
        except PermissionError:
            # The table may be listed but its links not followed: the ptrace access check
            # (another user's process without CAP_SYS_PTRACE). It fails alike for every fd, so
            # the process counts once, as denied, like one whose table cannot be opened.
            report.processes -= 1
            report.denied += 1
            return links
        except OSError:
            report.fds_unreadable += 1
    return links


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
