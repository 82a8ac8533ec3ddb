"""-c: the processes holding TCP and UDP ports, sorted by how many each holds, most first (what
Windows' ``netstat -c`` lists). A view of a collected ``ConnectionSet`` (every socket, with its
owners), never the kernel."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pynetstat.model.sockets import SocketBatch


class ProcessPorts:
    """One process and the sockets it holds: ``tcp`` and ``udp`` counts (IPv4 and IPv6 together;
    a socket several processes hold counts for each)."""

    __slots__ = ("pid", "name", "tcp", "udp")

    def __init__(self, pid: int, name: str | None, tcp: int = 0, udp: int = 0):
        self.pid = pid
        self.name = name
        self.tcp = tcp
        self.udp = udp

    @property
    def ports(self) -> int:
        return self.tcp + self.udp


def port_counts(batches: Iterable[SocketBatch]) -> list[ProcessPorts]:
    """``ProcessPorts`` of every process that holds a socket, most ports first (then by PID).
    ``batches``: ``SocketBatch`` with their ``owners`` column (``Owner`` tuples)."""
    found: dict[int, ProcessPorts] = {}
    for batch in batches:
        udp = batch.proto == "udp"
        for owners in batch.owners or ():
            for owner in owners:
                entry = found.get(owner.pid)
                if entry is None:
                    entry = found[owner.pid] = ProcessPorts(owner.pid, owner.name)
                if udp:
                    entry.udp += 1
                else:
                    entry.tcp += 1
    return sorted(found.values(), key=lambda p: (-p.ports, p.pid))
