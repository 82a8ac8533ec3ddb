"""The kernel's two views of its sockets, compared by inode: sock_diag against /proc/net.

Both list the same hash tables (``inet_diag_dump_icsk`` and ``tcp4_seq_show`` walk the same
``tcp_hashinfo``; udp likewise), so for a socket with an inode, one listed by one view and not the
other means someone filters a view: a rootkit hooking ``tcp4_seq_show`` hides lines from
/proc/net/tcp and not from netlink (the check unhide-tcp makes). Sockets come and go between two
reads, so a difference counts only when a second pair of reads, made after the first, shows the
same socket in the same view and not in the other. Inode 0 (TIME_WAIT, request and orphaned
sockets, sock_i_ino() in net/core/sock.c) names no socket and is left out.
"""

from __future__ import annotations

from pynetstat.errors import BackendUnavailable, ParseError
from pynetstat.kinds import ALL_STATES
from pynetstat.linux.netlink import DumpStats
from pynetstat.linux.procfs import parse_inet_line
from pynetstat.linux.sockdiag import build_request, decode_batches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, KeysView

    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.model.sockets import InetSocket, SocketBatch

KINDS = (("tcp", 4), ("tcp", 6), ("udp", 4), ("udp", 6))
DIAG, PROC = "sock_diag", "/proc/net"


class _Diag:
    """One sock_diag dump, kept as the decoder's column batches: the comparison needs only the
    inode column, and a record is made only for a socket that differs."""

    def __init__(self, netlink: NetlinkSource, proto: str, family: int,
                 batches: list[SocketBatch] | None = None):
        if batches is None:
            reply = netlink.dump(build_request(family, proto, ALL_STATES))
            batches = list(decode_batches(reply, proto, family, DumpStats()))
        self.batches = batches
        self.inodes: set[int] = set().union(*(batch.inode for batch in self.batches))
        self.inodes.discard(0)

    def keys(self) -> set[int]:
        return self.inodes

    def __iter__(self) -> Iterator[int]:
        return iter(self.inodes)

    def __getitem__(self, inode: int) -> InetSocket:
        for batch in self.batches:
            if inode in batch.inode:
                sock: InetSocket = next(batch.take([batch.inode.index(inode)]).sockets())
                return sock
        raise KeyError(inode)


class _Proc:
    """One /proc/net file, kept as its lines by inode (field 10): a line is parsed whole only
    for a socket that differs. A line whose inode cannot be read raises ``ParseError``: it could
    be the one missing, so no verdict is given on that kind."""

    def __init__(self, procfs: ProcFS, proto: str, family: int):
        self.proto, self.family = proto, family
        rel = f"net/{proto}{'6' if family == 6 else ''}"
        self.path = procfs.path(rel)
        self.lines: dict[int, str] = {}
        for no, line in enumerate(procfs.read_text(rel).splitlines()[1:], start=2):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 10 or not (fields[9].isascii() and fields[9].isdigit()):
                raise ParseError(self.path, no, line, "no inode field")
            if fields[9] != "0":
                self.lines[int(fields[9])] = line

    def keys(self) -> KeysView[int]:
        return self.lines.keys()

    def __iter__(self) -> Iterator[int]:
        return iter(self.lines)

    def __getitem__(self, inode: int) -> InetSocket:
        return parse_inet_line(self.lines[inode], self.proto, self.family)


def _read_both(netlink: NetlinkSource, procfs: ProcFS, proto: str, family: int,
               batches: list[SocketBatch] | None = None) -> tuple[_Diag, _Proc]:
    return _Diag(netlink, proto, family, batches), _Proc(procfs, proto, family)


def compare_views(netlink: NetlinkSource | None, procfs: ProcFS, notes: list[str],
                  first: dict[tuple[str, int], list[SocketBatch]] | None = None
                  ) -> tuple[list[tuple[InetSocket, str, str]], set[int]]:
    """``(disagreements, inodes)``: each ``(socket, seen_in, missing_from)`` that two readings
    agree on, and every inode the last reading saw (a socket still there). A kind whose views
    cannot both be read is skipped with a line in ``notes``. ``first``: ``(proto, family) ->
    batches`` of a sock_diag dump of every state already made (the connection collection's),
    used as the first reading of that kind instead of asking again."""
    found: list[tuple[InetSocket, str, str]] = []
    alive: set[int] = set()
    for proto, family in KINDS:
        name = f"{proto}{'6' if family == 6 else ''}"
        try:
            if netlink is None:
                raise BackendUnavailable("netlink disabled")
            diag, proc = _read_both(netlink, procfs, proto, family,
                                    (first or {}).get((proto, family)))
            only_diag = diag.keys() - proc.keys()
            only_proc = proc.keys() - diag.keys()
            if only_diag or only_proc:
                # Read again, the other way round, so that a socket made or closed between the
                # two reads of the first pair shows up in both views or in neither this time.
                proc2 = _Proc(procfs, proto, family)
                diag2 = _Diag(netlink, proto, family)
                only_diag &= diag2.keys() - proc2.keys()
                only_proc &= proc2.keys() - diag2.keys()
                diag, proc = diag2, proc2
        except FileNotFoundError:
            continue  # no such kind here (a kernel without IPv6): nothing to compare
        except (BackendUnavailable, OSError, ParseError) as e:
            notes.append(f"{name}: the two kernel views were not compared: {e}")
            continue
        alive.update(diag)
        alive.update(proc)
        found.extend((diag[i], DIAG + " " + name, PROC + "/" + name) for i in sorted(only_diag))
        found.extend((proc[i], PROC + "/" + name, DIAG + " " + name) for i in sorted(only_proc))
    return found, alive
