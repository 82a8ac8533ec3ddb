"""-c: the processes holding TCP and UDP ports, sorted by how many each holds, most first (what
Windows' ``netstat -c`` lists). With ``--info``, the bytes their TCP connections moved (tcp_info's
``bytes_acked`` and ``bytes_received``), and with an interval the bytes per second since the pass
before: who is using the network, without capturing a packet. A view of a collected
``ConnectionSet`` (every socket, with its owners), never the kernel."""

from __future__ import annotations

from pynetstat.model.passes import byte_columns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pynetstat.model.passes import ByteRates
    from pynetstat.model.sockets import SocketBatch


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


def port_counts(batches: Iterable[SocketBatch], traffic: ByteRates | None = None,
                now: float = 0.0) -> list[ProcessPorts]:
    """``ProcessPorts`` of every process that holds a socket, most ports first (then by PID).
    ``batches``: ``SocketBatch`` with their ``owners`` column (``Owner`` tuples). ``traffic``
    (``--info``, model/passes.ByteRates): the batches carry tcp_info; each process gets its
    sockets' bytes, and rates against the reading ``traffic`` holds (then ``traffic`` holds this
    one, taken at ``now``): a socket first seen in this reading moved all its bytes since the
    last one (it did not exist then); one that closed between the readings takes its last bytes
    with it (nothing counts them). With rates the busiest first."""
    found: dict[int, ProcessPorts] = {}
    if traffic is not None:
        traffic.start(now)
    rates: dict[int, list[float]] = {}  # pid -> [send, receive] per second
    for batch in batches:
        udp = batch.proto == "udp"
        acked: Sequence[int | None] = ()
        received: Sequence[int | None] = ()
        send: list[float | None] = []
        receive: list[float | None] = []
        if traffic is not None and not udp and batch.extensions is not None:
            acked, received = byte_columns(batch.extensions)
            send, receive = traffic.batch(batch.cookie, acked, received, from_zero=True)
        for i, owners in enumerate(batch.owners or ()):
            sent = acked[i] if acked else None
            for owner in owners:
                entry = found.get(owner.pid)
                if entry is None:
                    entry = found[owner.pid] = ProcessPorts(owner.pid, owner.name)
                if udp:
                    entry.udp += 1
                    continue
                entry.tcp += 1
                if sent is not None:  # a process with no tcp_info read keeps None: not measured
                    entry.sent = (entry.sent or 0) + sent
                    entry.received = (entry.received or 0) + (received[i] or 0)
                if send and send[i] is not None:
                    r = rates.setdefault(owner.pid, [0.0, 0.0])
                    r[0] += send[i] or 0.0
                    r[1] += receive[i] or 0.0
    if traffic is None:
        return sorted(found.values(), key=lambda p: (-p.ports, p.pid))
    traffic.finish()
    # only a process with a socket read at both readings has a rate
    for pid, (out, into) in rates.items():
        found[pid].send_rate, found[pid].receive_rate = out, into
    return sorted(found.values(), key=lambda p: (-((p.send_rate or 0) + (p.receive_rate or 0)),
                                                 -p.ports, p.pid))
