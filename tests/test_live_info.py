"""``--live --info`` (issue 20) in Textual's headless pilot, against the real kernel: the Send/s,
Recv/s and RTT ms columns of a loopback connection that a sender process drives at a known pace
(the measured rate within 20%), no rate for a connection not seen at the reading before, and
sorting by a measured column."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("textual")

from test_live import drive, make_app, table_rows, until  # noqa: E402

RATE = 200_000  # bytes per second

RECEIVER = textwrap.dedent("""
    import socket
    lst = socket.create_server(("127.0.0.1", 0))
    print(lst.getsockname()[1], flush=True)
    conn, _ = lst.accept()
    print("accepted", flush=True)
    while conn.recv(1 << 16):
        pass
""")

# Catches up with the clock every 20 ms: over any half second it has sent the pace's share
# within one slice.
SENDER = textwrap.dedent("""
    import socket, sys, time
    port, rate = map(int, sys.argv[1:])
    s = socket.create_connection(("127.0.0.1", port))
    print(s.getsockname()[1], flush=True)
    start, sent = time.monotonic(), 0
    while True:
        due = int((time.monotonic() - start) * rate)
        if due > sent:
            s.sendall(b"y" * (due - sent))
            sent = due
        time.sleep(0.02)
""")

COLUMNS = ["Proto", "Local Address", "Foreign Address", "State", "PID", "Process",
           "Send/s", "Recv/s", "RTT ms"]


@pytest.fixture
def paced():
    """(listening port, sender's port): a receiver process and a sender at RATE to it."""
    procs = []
    try:
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE,
                                    text=True)
        procs.append(receiver)
        port = int(receiver.stdout.readline())
        sender = subprocess.Popen([sys.executable, "-c", SENDER, str(port), str(RATE)],
                                  stdout=subprocess.PIPE, text=True)
        procs.append(sender)
        client_port = int(sender.stdout.readline())
        assert receiver.stdout.readline() == "accepted\n"
        yield port, client_port
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_send_and_receive_rates_of_a_paced_connection(paced):
    port, client_port = paced
    app = make_app(["-n", "--info", "--port", str(port)], interval=0.5)
    client, server = f"127.0.0.1:{client_port}", f"127.0.0.1:{port}"
    held: list[socket.socket] = []

    def cells() -> dict[tuple[str, str], tuple[str, ...]]:
        return {(r[2], r[3]): r[7:] for r in table_rows(app)}

    async def scenario(pilot):
        assert list(app.query_one("#table").titles) == COLUMNS
        await until(pilot, lambda: app.readings >= 1, "a first reading")
        first = cells()
        # the first reading has nothing to measure against: no rate, not 0
        assert first[(client, server)][:2] == ("-", "-")
        assert first[(server, client)][:2] == ("-", "-")
        assert float(first[(client, server)][2]) > 0  # the RTT is one reading's
        sends, receives = [], []
        seen = app.readings
        while len(sends) < 8:
            await until(pilot, lambda seen=seen: app.readings > seen, "the next reading")
            seen = app.readings
            now = cells()
            sends.append(float(now[(client, server)][0]))
            receives.append(float(now[(server, client)][1]))
        assert abs(statistics.median(sends) - RATE) <= 0.2 * RATE, sends
        assert abs(statistics.median(receives) - RATE) <= 0.2 * RATE, receives
        # a connection that was not there at the reading before: listed, no rate yet
        late = socket.create_connection(("127.0.0.1", port))
        held.append(late)
        late_end = f"127.0.0.1:{late.getsockname()[1]}"
        await until(pilot, lambda: (late_end, server) in cells(), "the late connection")
        assert cells()[(late_end, server)][:2] == ("-", "-")
        assert float(cells()[(client, server)][0]) > 0
        # 7: by Send/s, the busiest last; again: first
        await pilot.press("7")
        rows = table_rows(app)
        assert (rows[-1][2], rows[-1][7]) == (client, cells()[(client, server)][0])
        assert "sort: Send/s ascending" in str(app.query_one("#status").render())
        await pilot.press("7")
        assert table_rows(app)[0][2] == client
        assert app.collector.opts.extension_groups == ("tcp_info",)

    try:
        drive(app, scenario)
    finally:
        for s in held:
            s.close()


def test_without_info_no_tcp_info_is_asked():
    """The kernel is asked for tcp_info only with --info (the collector's request)."""
    app = make_app(["-n", "--pid", str(os.getpid())])
    try:
        assert app.collector.opts.extension_groups == ()
        assert app.collector.throughput is None
        assert app.columns == tuple(COLUMNS[:6])
    finally:
        app.collector.shutdown()
