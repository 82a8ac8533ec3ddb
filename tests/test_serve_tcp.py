"""--serve --info (issue 19): each process name's TCP bytes sent and received and segments
retransmitted, as counters that only go up across scrapes, even when the connections that moved
the bytes have closed. Live, in a network namespace made by the test (tests/test_serve.py's
Scene): a sender process and a receiver process, the bytes they move chosen by the test, read
back exactly from /metrics."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from test_serve import Scene, pytestmark, samples, series  # noqa: F401  (pytestmark: root, ip)

RECEIVER = r"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, b"pnst-rx", 0, 0, 0)
lst = socket.create_server(("127.0.0.1", 4201))
print("ready", flush=True)
while True:
    conn, _ = lst.accept()
    got = 0
    while True:
        data = conn.recv(1 << 16)
        if not data:
            break
        got += len(data)
        if got == int(sys.argv[1]) or got == int(sys.argv[2]) or got == int(sys.argv[3]):
            print("got", got, flush=True)
    conn.close()
"""

SENDER = r"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, b"pnst-tx", 0, 0, 0)
conn = None
for line in sys.stdin:
    word, _, n = line.strip().partition(" ")
    if word == "open":
        conn = socket.create_connection(("127.0.0.1", 4201))
    elif word == "send":
        conn.sendall(b"x" * int(n))
    elif word == "close":
        conn.close()
    print("done", flush=True)
"""

FIRST, MORE, AFTER = 500_000, 700_000, 300_000


def test_per_process_tcp_counters_only_go_up_across_closed_connections():
    scene = Scene()
    try:
        receiver = scene.start([sys.executable, "-c", RECEIVER, str(FIRST), str(FIRST + MORE),
                                str(AFTER)], stdout=subprocess.PIPE)
        assert receiver.stdout.readline().strip() == "ready"
        sender = scene.start([sys.executable, "-c", SENDER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)

        def do(command: str, got: int | None = None) -> None:
            sender.stdin.write(command + "\n")
            sender.stdin.flush()
            assert sender.stdout.readline().strip() == "done"
            if got is not None:
                assert receiver.stdout.readline().split() == ["got", str(got)]
                time.sleep(0.1)  # the last ACK is back (loopback)

        # a fresh scan for every scrape, however long the host makes it take (no stale answer)
        scene.serve("--info", environ={"PYNETSTAT_SCRAPE_WAIT": "120"})

        def totals() -> dict:
            found = samples(scene.scrape())
            return {(metric, process): sum(series(found, metric, process=process).values())
                    for metric in ("pynetstat_process_tcp_sent_bytes_total",
                                   "pynetstat_process_tcp_received_bytes_total",
                                   "pynetstat_process_tcp_retransmitted_segments_total")
                    for process in ("pnst-tx", "pnst-rx")}

        def expect(sent: int, conns: int = 1) -> dict:
            # The kernel's bytes_acked counts the SYN of an active open too: one byte per
            # connection beyond the data (the passive end's stays 0); the kernel's, as is.
            return {("pynetstat_process_tcp_sent_bytes_total", "pnst-tx"): sent + conns,
                    ("pynetstat_process_tcp_sent_bytes_total", "pnst-rx"): 0,
                    ("pynetstat_process_tcp_received_bytes_total", "pnst-tx"): 0,
                    ("pynetstat_process_tcp_received_bytes_total", "pnst-rx"): sent,
                    ("pynetstat_process_tcp_retransmitted_segments_total", "pnst-tx"): 0,
                    ("pynetstat_process_tcp_retransmitted_segments_total", "pnst-rx"): 0}

        def settles_at(want: dict) -> None:
            """Scrapes until the counters read ``want`` (the last ACK may be delayed on a loaded
            host), for at most 20 s; the last reading must equal it."""
            deadline = time.monotonic() + 20
            got = totals()
            while got != want and time.monotonic() < deadline:
                time.sleep(0.5)
                got = totals()
            assert got == want

        do("open")
        do(f"send {FIRST}", FIRST)
        settles_at(expect(FIRST))
        do(f"send {MORE}", FIRST + MORE)
        settles_at(expect(FIRST + MORE))
        # The connection closes: what it moved stays counted; a new one adds to it.
        do("close")
        time.sleep(0.2)
        assert totals() == expect(FIRST + MORE)
        do("open")
        do(f"send {AFTER}", AFTER)
        settles_at(expect(FIRST + MORE + AFTER, conns=2))
    finally:
        scene.close()


def test_without_info_no_tcp_counters():
    scene = Scene()
    try:
        scene.holder(b"pnst-plain")
        scene.serve()
        found = samples(scene.scrape())
        assert not any(metric.startswith("pynetstat_process_tcp_") for metric, _ in found)
        assert series(found, "pynetstat_process_sockets", process="pnst-plain")
    finally:
        scene.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
