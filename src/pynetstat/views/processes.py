"""-c: the processes holding TCP and UDP ports, sorted by how many each holds, most first (what
Windows' ``netstat -c`` lists). With ``--info``, the bytes their TCP connections moved (tcp_info's
``bytes_acked`` and ``bytes_received``), and with an interval the bytes per second since the pass
before: who is using the network, without capturing a packet. A view of a collected
``ConnectionSet`` (every socket, with its owners), never the kernel."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pynetstat.model.sockets import SocketBatch

    Moved = dict[int, tuple[int, int]]  # socket cookie -> (bytes acked, bytes received)


class ProcessPorts:
    """One process and the sockets it holds: ``tcp`` and ``udp`` counts (IPv4 and IPv6 together;
    a socket several processes hold counts for each). With ``--info``: ``sent`` and ``received``,
    the bytes its TCP sockets have moved since each was opened; in interval mode from the second
    pass on, ``send_rate`` and ``receive_rate`` in bytes per second over the last interval
    (``None``: not known)."""

    __slots__ = ("pid", "name", "tcp", "udp", "sent", "received", "send_rate", "receive_rate")

    def __init__(self, pid: int, name: str | None, tcp: int = 0, udp: int = 0):
        self.pid = pid
        self.name = name
        self.tcp = tcp
        self.udp = udp
        self.sent: int | None = None
        self.received: int | None = None
        self.send_rate: float | None = None
        self.receive_rate: float | None = None

    @property
    def ports(self) -> int:
        return self.tcp + self.udp


class Traffic:
    """The bytes each TCP socket had moved at the last reading, by socket cookie, and when it was
    read: what the next reading's rates are measured against. A socket first seen in this
    reading moved all its bytes since the last one (it did not exist then); a socket that closed
    between two readings takes its last bytes with it (nothing counts them)."""

    def __init__(self) -> None:
        self.before: Moved | None = None
        self.when = 0.0


def _moved(batch: SocketBatch) -> list[tuple[int, int] | None]:
    """Each row's (bytes acked, bytes received) from its tcp_info, or None."""
    out: list[tuple[int, int] | None] = []
    for ext in batch.extensions or ():
        info = None if ext is None else ext.info
        if info is None or info.bytes_acked is None or info.bytes_received is None:
            out.append(None)
        else:
            out.append((info.bytes_acked, info.bytes_received))
    return out


def port_counts(batches: Iterable[SocketBatch], traffic: Traffic | None = None,
                now: float = 0.0) -> list[ProcessPorts]:
    """``ProcessPorts`` of every process that holds a socket, most ports first (then by PID).
    ``batches``: ``SocketBatch`` with their ``owners`` column (``Owner`` tuples). ``traffic``
    (``--info``): the batches carry tcp_info; each process gets its sockets' bytes, and rates
    against the reading ``traffic`` holds (then ``traffic`` holds this one, taken at ``now``);
    with rates the busiest first."""
    found: dict[int, ProcessPorts] = {}
    before = traffic.before if traffic is not None else None
    seconds = now - traffic.when if traffic is not None else 0.0
    moved_now: Moved = {}
    deltas: dict[int, list[int]] = {}  # pid -> [bytes sent, bytes received] since the reading before
    for batch in batches:
        udp = batch.proto == "udp"
        moved = _moved(batch) if traffic is not None and not udp else ()
        for i, owners in enumerate(batch.owners or ()):
            pair = moved[i] if moved else None
            delta = None
            if pair is not None:
                cookie = batch.cookie[i]
                if cookie is not None:
                    moved_now[cookie] = pair
                    if before is not None:
                        was = before.get(cookie, (0, 0))
                        delta = (max(pair[0] - was[0], 0), max(pair[1] - was[1], 0))
            for owner in owners:
                entry = found.get(owner.pid)
                if entry is None:
                    entry = found[owner.pid] = ProcessPorts(owner.pid, owner.name)
                if udp:
                    entry.udp += 1
                    continue
                entry.tcp += 1
                if pair is not None:  # a process with no tcp_info read keeps None: not measured
                    entry.sent = (entry.sent or 0) + pair[0]
                    entry.received = (entry.received or 0) + pair[1]
                if delta is not None:
                    d = deltas.setdefault(owner.pid, [0, 0])
                    d[0] += delta[0]
                    d[1] += delta[1]
    if traffic is None:
        return sorted(found.values(), key=lambda p: (-p.ports, p.pid))
    if seconds > 0:  # only a process with a socket read at both readings has a rate
        for pid, (sent, received) in deltas.items():
            found[pid].send_rate, found[pid].receive_rate = sent / seconds, received / seconds
    traffic.before, traffic.when = moved_now, now
    return sorted(found.values(), key=lambda p: (-((p.send_rate or 0) + (p.receive_rate or 0)),
                                                 -p.ports, p.pid))
