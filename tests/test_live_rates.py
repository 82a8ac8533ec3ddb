"""The live view's rates (modes/live/rates.py, pure) over real readings of the kernel: the bytes
per second of a loopback connection between two ``--info`` readings, a connection that has no
rate yet, and the counters screen's rates of ``-s`` counters that loopback UDP datagrams move.
The clock is the test's: two readings "2 seconds apart" give the bytes moved over 2, exactly."""

from __future__ import annotations

import io
import socket
import time

from pynetstat.cli import parse_args
from pynetstat.env import Environment
from pynetstat.linux.connections import collect
from pynetstat.model.changes import Snapshot
from pynetstat.modes.live.rates import Counters, Throughput, sparkline
from pynetstat.session import Session

SENT = 300_000


def reading(session: Session, opts) -> Snapshot:
    return Snapshot([b for b in collect(opts, session.env, session.netlink) if len(b)])


def by_end(snapshot: Snapshot, rates: dict) -> dict:
    """``(local port, remote port) -> Reading``."""
    out = {}
    for batch, keys in zip(snapshot.batches, snapshot.keys):
        for key, (sock, _owners) in zip(keys, batch.rows()):
            if key in rates:
                out[(sock.local_port, sock.remote_port)] = rates[key]
    return out


def test_bytes_per_second_between_two_readings():
    lst = socket.create_server(("127.0.0.1", 0))
    port = lst.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    server, _ = lst.accept()
    opts = parse_args(["-n", "--info", "--port", str(port)])
    session = Session(opts, Environment(io.StringIO(), io.StringIO()))
    try:
        cport = client.getsockname()[1]
        throughput = Throughput()
        first = reading(session, opts)
        before = by_end(first, throughput.update(first.batches, first.keys, 10.0))
        # the first reading: no rate for anything, but the RTT is known
        assert {(r.send, r.receive) for r in before.values()} == {(None, None)}
        assert all(r.rtt_us and r.rtt_us > 0 for r in before.values())
        assert before[(cport, port)].cells()[:2] == ("-", "-")
        client.sendall(b"x" * SENT)
        got = 0
        while got < SENT:
            got += len(server.recv(1 << 16))
        deadline = time.monotonic() + 10
        while True:  # the last ACK reaches the sender's tcp_info a moment after the data
            second = reading(session, opts)
            acked = [ext.info.bytes_acked for b in second.batches for ext, s in
                     zip(b.extensions, b.sockets()) if s.local_port == cport]
            start = [ext.info.bytes_acked for b in first.batches for ext, s in
                     zip(b.extensions, b.sockets()) if s.local_port == cport]
            if acked[0] - start[0] == SENT or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        # a connection opened between the readings: listed, no rate yet (not 0)
        late = socket.create_connection(("127.0.0.1", port))
        third_conn, _ = lst.accept()
        second = reading(session, opts)
        after = by_end(second, throughput.update(second.batches, second.keys, 12.0))
        assert after[(cport, port)].send == SENT / 2
        assert after[(cport, port)].receive == 0.0
        assert after[(port, cport)].receive == SENT / 2
        assert after[(port, cport)].cells()[1] == str(SENT // 2)
        assert after[(late.getsockname()[1], port)].send is None
        assert after[(late.getsockname()[1], port)].cells()[:2] == ("-", "-")
        late.close()
        third_conn.close()
    finally:
        session.close()
        for s in (client, server, lst):
            s.close()


def udp_counters(session: Session) -> dict[str, dict[str, int]]:
    from pynetstat.modes import collect_sections

    return {key: view.counters(snapshot) for key, view, snapshot in collect_sections(session)}


def test_counter_rates_from_loopback_datagrams():
    opts = parse_args(["-s"])
    session = Session(opts, Environment(io.StringIO(), io.StringIO()))
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        counters = Counters(history=4)
        first = {r.name: r for r in counters.update(udp_counters(session), 100.0)}
        assert first["Udp.OutDatagrams"].rate is None  # one reading: no rate
        was = first["Udp.OutDatagrams"].value
        sent = 400
        for _ in range(sent):
            tx.sendto(b"d", rx.getsockname())
        rows = {r.name: r for r in counters.update(udp_counters(session), 104.0)}
        moved = rows["Udp.OutDatagrams"]
        # others on the host may send too: at least ours, over 4 s
        assert moved.value - was >= sent
        assert moved.rate == (moved.value - was) / 4
        assert moved.cells()[:2] == ("-s", "Udp.OutDatagrams")
        assert list(moved.history) == [moved.rate]
        assert sparkline(moved.history) == "█"
        # the screen hidden, then shown again: no rate over the gap
        counters.reset()
        again = {r.name: r for r in counters.update(udp_counters(session), 500.0)}
        assert again["Udp.OutDatagrams"].rate is None
        assert again["Udp.OutDatagrams"].cells()[3] == "-"
    finally:
        session.close()
        rx.close()
        tx.close()
