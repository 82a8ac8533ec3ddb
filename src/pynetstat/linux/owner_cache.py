"""Socket owners kept from one interval pass to the next, so later passes skip the /proc/*/fd walk.

The walk is the one ``owners.scan_owners`` makes (``fdscan``), with one difference: each
process is read through a descriptor of its ``/proc/PID`` directory. Such a directory stays bound
to the process it was opened for (once that process exits, every lookup below it fails, even if the PID has been
handed to a new process), so the start time read from its ``stat`` and the sockets in its ``fd``
belong to the same process, and ``(PID, start time)`` names it for good.

A later pass, given the inodes of the sockets it listed:

1. checks every owner it knows by its start time (one small read of ``/proc/PID/stat`` each); a
   PID that exited or now names another process loses every socket it was credited with;
2. checks every holding it believes: the ``/proc/PID/fd/N`` where the owner was seen holding a
   socket must still name that socket (one ``readlinkat`` per socket held, no table listed); a
   holding that fails is dropped, so an owner that closed its copy is never shown again;
3. forgets the sockets that are no longer listed;
4. looks for the sockets it has not seen before, and those that lost their last holder in 2. If
   there are none, no fd table is read at all. Otherwise it reads fd tables, the most likely
   holders first (processes that were not there at the last walk, newest first; then the owners
   that gained a socket lately; then the rest), and stops as soon as every such socket is found.

What this trades for speed, and when it is put right:

* a socket already credited to a live process that gains another holder (fork, SCM_RIGHTS)
  shows its known owners only, until a walk reads the other holder;
* a socket that a complete walk found in no visible process (a kernel socket, one held in another
  PID namespace or only in flight) is not looked for again until a walk runs to the end anyway.
"""

from __future__ import annotations

import os

from pynetstat.errors import ParseError
from pynetstat.linux.fdscan import (
    fd_tables,
    list_pids,
    missed,
    read_again,
    socket_inode,
    socket_links,
)
from pynetstat.linux.owners import OwnerMap
from pynetstat.linux.process import parse_stat
from pynetstat.model.sockets import ScanReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pynetstat.linux.process import ProcessCache
    from pynetstat.model.sockets import Owner

    Stat = tuple[int, str, int]  # (start time, comm, ppid) from /proc/PID/stat

    from typing import Protocol

    class OwnerReuse(Protocol):
        """What a ConnectionSet asks of interval mode's owners kept across passes: an
        ``OwnerCache``, or one namespace's share of one (linux/allnetns.SharedOwners)."""

        records: dict[int, Owner]
        process_cache: ProcessCache
        open_unowned: set[int]

        def lookup(self, inode_columns: Iterable[Iterable[int]]) -> OwnerMap: ...

_RECENT = 16  # owners remembered as "gained a socket lately"

# How the last lookup went (the pass log reports it).
FULL_WALK = "walk"  # every fd table read: the first pass
PARTIAL_WALK = "partial"  # fd tables read until every new socket was found
REUSED = "reused"  # no fd table read: only the owners' start times


class OwnerCache:
    """Owners of the listed sockets, kept across passes. ``lookup`` gives a pass its ``OwnerMap``;
    ``records`` (PID -> ``Owner``) and ``process_cache`` (read_process's, by (PID, start time))
    are the connection set's own caches, kept here so that they live as long as the owners do."""

    def __init__(self, proc_root: str):
        self.proc_root = proc_root
        self.owners: OwnerMap | None = None
        self.known: dict[int, Stat] = {}  # owner PID -> (start time, comm, ppid) from its stat
        # owner PID -> {fd: "socket:[N]"}: where each owner was seen holding each listed socket,
        # so that a later pass can check it still does (_recheck)
        self.held: dict[int, dict[str, str]] = {}
        self.unowned: set[int] = set()  # inodes a complete walk found in no visible process
        # inodes listed without an owner that the kernel still had when asked again after the
        # last pass (linux/recheck.py): not asked about again while they stay so
        self.open_unowned: set[int] = set()
        self.listed: set[int] = set()  # the PIDs in /proc at the last walk
        self.recent: list[int] = []  # owners that gained a socket lately, most recent first
        self.denied = 0  # fd tables we may not read, at the last walk
        self.hidepid: str | None = None  # /proc hides other users' processes (owners.scan_owners)
        self.records: dict[int, Owner] = {}
        self.process_cache: ProcessCache = {}
        self.how: str | None = None

    def lookup(self, inode_columns: Iterable[Iterable[int]]) -> OwnerMap:
        """The owners of the sockets whose inodes are given (one tuple per batch; 0 = no inode)."""
        wanted = set().union(*inode_columns)
        wanted.discard(0)
        if self.owners is None:
            owners = OwnerMap(ScanReport())
            self.held = {}
            if self._walk(owners, wanted, None, owners.report):
                self.unowned = wanted - owners.first.keys()
            self.how = FULL_WALK
        else:
            owners = self.owners
            owners.report = ScanReport()  # this pass's: a pass that reads no fd table reads 0
            self._forget(self._verify())
            self._recheck()
            first = owners.first
            for inode in first.keys() - wanted:  # closed since the last pass
                del first[inode]
                owners.more.pop(inode, None)
            self.unowned &= wanted
            missing = wanted - first.keys() - self.unowned
            self.how = REUSED
            if missing:
                self.how = PARTIAL_WALK
                found = OwnerMap(ScanReport())
                if self._walk(found, wanted, missing, found.report):
                    # Every process was read: what it holds now is in ``held`` (the rest of
                    # it is of processes that hold nothing wanted any more; _settle drops it).
                    owners = found  # a walk that ran to the end knows every holder
                    self.unowned = wanted - owners.first.keys()
                else:
                    owners.merge(found)
            # Processes we may not read stay unread between walks: say so on every pass.
            owners.report.denied = max(owners.report.denied, self.denied)
        owners.report.hidepid = self.hidepid
        self.owners = owners
        self._settle()
        return owners

    def _walk(self, owners: OwnerMap, wanted: set[int], missing: set[int] | None,
              report: ScanReport) -> bool:
        """Read fd tables into ``owners`` (only ``wanted`` inodes). With ``missing``: most likely
        holders first, stopping once none is missing. True when every process was read."""
        pids = list_pids(self.proc_root, report)
        if pids is None:
            return False
        self.hidepid = report.hidepid
        listed = set(pids)
        if missing is None:
            order = sorted(listed)
        else:
            new = sorted(listed - self.listed, reverse=True)
            recent = [pid for pid in self.recent if pid in listed]
            seen = set(new).union(recent)
            order = new + recent + sorted(listed - seen, reverse=True)
        self.listed = listed
        for pid, pdir, fdir, fds in fd_tables(self.proc_root, order, report, pid_dir=True):
            if missing is None:
                links = socket_links(fdir, fds, report)
                mine = {fd: link for fd, link in links.items() if socket_inode(link) in wanted}
            else:
                mine = _new_sockets(fdir, fds, wanted, missing, report)
            if not mine:
                if missing is None:
                    self.held.pop(pid, None)  # read whole: it holds no wanted socket now
                continue
            stat = _stat(pdir, "stat")
            if stat is None:
                report.vanished += 1
                continue
            self.known[pid] = stat
            if missing is None:
                self.held[pid] = mine
            else:
                self.held.setdefault(pid, {}).update(mine)
            for link in mine.values():
                owners.add(socket_inode(link), pid)  # type: ignore[arg-type]  # a wanted socket's
            if missing is not None:
                if pid in self.recent:
                    self.recent.remove(pid)
                self.recent.insert(0, pid)
                if not missing:
                    return False
        self.denied = report.denied
        return True

    def _recheck(self) -> None:
        """Check every holding the cache believes: ``/proc/PID/fd/N`` must still name the socket
        it named when it was read. One ``readlinkat`` per socket held, relative to the owner's fd
        directory, and one list comparison per owner when nothing changed; no table is listed.
        A holding that fails is dropped: the socket then shows its other holders, or, with none
        left, is missing and looked for by a walk. So an owner that closed its copy of a shared
        socket is never shown again (issue 21 item 6)."""
        owners = self.owners
        assert owners is not None  # a later pass: lookup has made one
        for pid, held in self.held.items():
            links = read_again(self.proc_root, pid, list(held))
            believed = list(held.values())
            if links == believed:
                continue
            for fd, link, old in zip(list(held), links, believed):
                if link != old:
                    del held[fd]
                    owners.discard(socket_inode(old), pid)  # type: ignore[arg-type]  # held: sockets

    def _verify(self) -> set[int]:
        """The known owners that exited or whose PID now names another process. One that ran
        exec or was re-parented is still itself, but its cached name and details are dropped."""
        gone = set()
        for pid, stat in self.known.items():
            now = _stat(None, f"{self.proc_root}/{pid}/stat")
            if now is None or now[0] != stat[0]:
                gone.add(pid)
            elif now != stat:
                self.known[pid] = now
                self.records.pop(pid, None)
        return gone

    def _forget(self, gone: set[int]) -> None:
        """Take the sockets of processes that are gone away from them."""
        if not gone:
            return
        assert self.owners is not None  # a later pass: lookup has made one
        first, more = self.owners.first, self.owners.more
        for inode in [inode for inode, pid in first.items() if pid in gone]:
            rest = [pid for pid in more.pop(inode, ()) if pid not in gone]
            if rest:
                first[inode] = rest[0]
                if len(rest) > 1:
                    more[inode] = rest[1:]
            else:
                del first[inode]
        for inode in list(more):
            extra = [pid for pid in more[inode] if pid not in gone]
            if extra:
                more[inode] = extra
            else:
                del more[inode]
        for pid in gone:
            self.known.pop(pid, None)
            self.held.pop(pid, None)
            # Its Owner record (name, -b details) is the old process's: a new process that
            # gets the PID must not be shown with them (tests/attack/test_interval.py).
            self.records.pop(pid, None)

    def _settle(self) -> None:
        """Keep only what the current owners need, so that memory follows the sockets listed."""
        owners = self.owners
        assert owners is not None  # lookup has just set it
        owning = set(owners.first.values())
        for pids in owners.more.values():
            owning.update(pids)
        for cache in (self.known, self.records, self.held):
            for pid in [pid for pid in cache if pid not in owning]:
                del cache[pid]
        self.recent = [pid for pid in self.recent if pid in owning][:_RECENT]
        if self.process_cache:
            keep = set(owning)
            for record in self.records.values():
                info = record.process
                if info is not None and info.ancestry:
                    keep.update(pid for pid, _name in info.ancestry)
            for key in [key for key in self.process_cache if key[0] not in keep]:
                del self.process_cache[key]


def _new_sockets(fdir: int, fds: list[str], wanted: set[int], missing: set[int],
                 report: ScanReport) -> dict[str, str]:
    """``{fd: "socket:[N]"}``: the wanted sockets of one process, read until no ``missing`` one is
    left. The newest fds come last in the listing and a new socket is most often among them, so
    they are read first."""
    found = {}
    readlink = os.readlink
    for fd in reversed(fds):
        try:
            link = readlink(fd, dir_fd=fdir)
        except OSError as e:
            if missed(report, e, fd=True):
                break
            continue
        inode = socket_inode(link)
        if inode in wanted:
            found[fd] = link
            missing.discard(inode)
            if not missing:
                break
    return found


def _stat(dir_fd: int | None, path: str) -> Stat | None:
    """``(start time, comm, ppid)`` from a /proc/PID/stat, or None when it cannot be read."""
    try:
        # O_NONBLOCK: a FIFO planted in a tree given as the root must not block the pass.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        comm, _state, ppid, start = parse_stat(data, path)
    except ParseError:
        return None
    return start, comm, ppid
