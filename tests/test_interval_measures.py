"""Interval mode's measures on the live kernel: with --info each TCP connection's send and
receive rate over the last pass, with -i how long the run has seen each socket in its state.

The scene, in a private network namespace: a child process holds a loopback connection A and
sends over it at a known pace (catching up with the clock every 20 ms, so that over any half
second it has sent that pace's share within one slice); on the test's word it opens a second,
idle connection B, or closes A's client end (FIN: the server end goes to CLOSE_WAIT) or aborts
it (RST: both ends go). pynetstat runs in-process on the real clock; its stdout is the test's
hook, so that each step happens between two known passes (the scene says when it is done: no
fixed sleeps). Rows are picked by both ends.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import textwrap
import time

from pynetstat.cli import main
from pynetstat.env import Environment
from pynetstat.errors import Exit
from test_interval_live import isolated

RATE = 200_000  # bytes per second, paced
INTERVAL = "0.5"

SCENE = textwrap.dedent("""
    import socket, struct, sys, threading, time
    rate = int(sys.argv[1])
    lst = socket.create_server(("127.0.0.1", 0))
    port = lst.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    server, _ = lst.accept()
    def drain(sock):
        while True:
            try:
                if not sock.recv(1 << 16):
                    return
            except OSError:
                return
    threading.Thread(target=drain, args=(server,), daemon=True).start()
    stop = threading.Event()
    def pace():
        start, sent = time.monotonic(), 0
        while not stop.is_set():
            due = int((time.monotonic() - start) * rate)
            if due > sent:
                client.sendall(b"y" * (due - sent))
                sent = due
            time.sleep(0.02)
    pacer = threading.Thread(target=pace, daemon=True)
    pacer.start()
    print(port, client.getsockname()[1], flush=True)
    kept = []
    for word in sys.stdin:
        word = word.strip()
        if word == "open":
            b = socket.create_connection(("127.0.0.1", port))
            kept += [b, lst.accept()[0]]
            print(b.getsockname()[1], flush=True)
        elif word in ("close", "abort"):
            stop.set()
            pacer.join()
            if word == "abort":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            print("done", flush=True)
""")


class Scene:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SCENE, str(RATE)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port, self.a = map(int, self.proc.stdout.readline().split())
        self.b: int | None = None

    def say(self, word: str) -> str:
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Passes(io.StringIO):
    """stdout that, as interval mode flushes it at the end of pass n, has the scene do
    ``steps[n]`` and interrupts the run after pass ``last`` (a pass that overran its slot is
    followed by the next without a sleep: passes are counted here, not in ``sleep``)."""

    def __init__(self, scene: Scene, steps: dict, last: int):
        super().__init__()
        self.scene, self.steps, self.last, self.passes = scene, steps, last, 0

    def flush(self) -> None:
        self.passes += 1
        step = self.steps.get(self.passes)
        if step is not None:
            step(self.scene)
        if self.passes == self.last:
            raise KeyboardInterrupt


def run_passes(argv: list[str], steps: dict, last: int, interval: str = INTERVAL):
    """``pynetstat ARGV`` in-process on the real clock; after pass n the scene does
    ``steps[n]``; the run is interrupted after pass ``last``. Returns (scene, stdout)."""
    scene = Scene()
    try:
        out = Passes(scene, steps, last)
        env = Environment(out, io.StringIO(), environ={}, monotonic=time.monotonic,
                          sleep=time.sleep, wall_clock=time.time)
        status = main([*argv, "--port", str(scene.port), interval], env)
        assert status == Exit.INTERRUPTED, env.stderr.getvalue()
        assert out.passes == last
        return scene, out.getvalue()
    finally:
        scene.stop()


def opened(scene: Scene) -> None:
    scene.b = int(scene.say("open"))


def json_scenario():
    scene, out = run_passes(["-n", "--info", "-i", "--json"],
                            {3: opened, 5: lambda s: s.say("close")}, last=7)
    passes = []
    for line in out.splitlines():
        rows = {}
        for c in json.loads(line)["connections"]:
            info = c["tcp_info"] or {}
            rows[f"{c['local_port']}>{c['remote_port']}"] = {
                "state": c["state"], **{k: info.get(k) for k in (
                    "send_bytes_per_sec", "receive_bytes_per_sec", "rate_seconds",
                    "seen_in_state_seconds")}}
        passes.append(rows)
    return {"port": scene.port, "a": scene.a, "b": scene.b, "passes": passes}


def test_rates_and_time_seen_in_state_in_json():
    got = isolated(json_scenario)
    port, a, b, passes = got["port"], got["a"], got["b"], got["passes"]
    assert len(passes) == 7
    client, server = f"{a}>{port}", f"{port}>{a}"

    # pass 1: nothing measured yet, for any connection, and said so by nulls
    first = passes[0]
    assert {first[client]["state"], first[server]["state"]} == {"ESTABLISHED"}
    for row in (first[client], first[server]):
        assert row["send_bytes_per_sec"] is row["receive_bytes_per_sec"] is None
        assert row["rate_seconds"] is row["seen_in_state_seconds"] is None

    # passes 2-5: the pace, sent by the client end and received by the server end
    sends = [p[client]["send_bytes_per_sec"] for p in passes[1:5]]
    receives = [p[server]["receive_bytes_per_sec"] for p in passes[1:5]]
    assert abs(statistics.median(sends) - RATE) <= 0.2 * RATE, sends
    assert abs(statistics.median(receives) - RATE) <= 0.2 * RATE, receives
    assert [p[client]["receive_bytes_per_sec"] for p in passes[1:5]] == [0.0] * 4
    spans = [p[client]["rate_seconds"] for p in passes[1:5]]
    assert all(0.2 < span < 2.0 for span in spans), spans  # 0.5 s apart, give or take load

    # -i: the time seen in state grows pass after pass, by the time between the readings
    seen = [p[server]["seen_in_state_seconds"] for p in passes[1:5]]
    assert seen[0] == spans[0]
    for k in (1, 2, 3):
        assert abs(seen[k] - (seen[k - 1] + spans[k])) < 1e-5, (seen, spans)

    # B opened after pass 3: listed in pass 4 with no rate yet (not 0) and not seen before;
    # in pass 5 it has one (0: it is idle) and has been seen in its state for a pass
    new_b, later_b = passes[3][f"{b}>{port}"], passes[4][f"{b}>{port}"]
    assert new_b["state"] == "ESTABLISHED"
    assert new_b["send_bytes_per_sec"] is new_b["receive_bytes_per_sec"] is None
    assert new_b["seen_in_state_seconds"] is None and new_b["rate_seconds"] is None
    assert later_b["send_bytes_per_sec"] == later_b["receive_bytes_per_sec"] == 0.0
    assert later_b["seen_in_state_seconds"] == passes[4][client]["rate_seconds"]

    # A's client end closed after pass 5: the server end is in CLOSE_WAIT from pass 6, its
    # time seen in state starts over, and grows again in pass 7
    assert passes[5][server]["state"] == "CLOSE_WAIT"
    assert passes[5][server]["seen_in_state_seconds"] is None
    assert passes[6][server]["state"] == "CLOSE_WAIT"
    assert passes[6][server]["seen_in_state_seconds"] == passes[6][server]["rate_seconds"]


def changes_scenario():
    # one rate over one pass (not a median of several): a second, so that a scheduling delay of
    # the scene under load weighs half what it would over half a second
    scene, out = run_passes(["-n", "--info", "--changes"],
                            {1: opened, 2: lambda s: s.say("abort")}, last=3, interval="1")
    return {"port": scene.port, "a": scene.a, "b": scene.b, "text": out}


def under(lines: list[str], mark: str, local: int, remote: int) -> str:
    """The --info line under the change row ``mark`` of the connection ``local``>``remote``."""
    for i, line in enumerate(lines):
        cells = line.split()
        if len(cells) > 4 and cells[1] == mark and cells[3] == f"127.0.0.1:{local}" \
                and cells[4] == f"127.0.0.1:{remote}":
            return lines[i + 1]
    raise AssertionError(f"no {mark} row {local}>{remote} in {lines}")


def test_rates_under_changes_rows():
    got = isolated(changes_scenario)
    port, a, b = got["port"], got["a"], got["b"]
    lines = got["text"].splitlines()
    # the first display: every connection read once, no rate yet
    display = lines[: lines.index(next(ln for ln in lines if ln.startswith("Changes every")))]
    # (A's two ends: without -a no listener)
    assert sum(ln.endswith(" rate: (first pass)") for ln in display) == 2, display
    # B appeared: no rate yet
    assert under(lines, "+", b, port).endswith(" rate: (new)")
    assert under(lines, "+", port, b).endswith(" rate: (new)")
    # A aborted: its two ends closed, each with its last rate (over pass 1 to pass 2)
    sent = under(lines, "-", a, port).split(" last rate: ")[1]
    received = under(lines, "-", port, a).split(" last rate: ")[1]
    words, into = sent.split(), received.split()
    assert words[0] == "send" and words[2:] == ["B/s", "recv", "0", "B/s"], sent
    assert into[:4] == ["send", "0", "B/s", "recv"], received
    assert abs(int(words[1]) - RATE) <= 0.2 * RATE, sent
    assert abs(int(into[4]) - RATE) <= 0.2 * RATE, received


def rate_lines_scenario() -> dict:
    """Runs of loopback connections, half of them moving bytes between two readings: the text
    under each row made for the whole batch (``ext_lines_for``: with --info alone a ``%``
    template and columns, the rates two ``%.0f`` columns, or a text per row when some row has
    none) is, byte for byte, ``extension_lines`` of the row alone with its ``Measure``."""
    from pynetstat.linux import diagext, diagreq, sockdiag
    from pynetstat.linux.netlink import DumpStats, LiveNetlink
    from pynetstat.model.changes import socket_keys
    from pynetstat.model.passes import ByteRates, Measures, byte_columns
    from pynetstat.render.extensions import _under, ext_lines_for, extension_lines
    from test_info_cli import pair, transfer

    nl = LiveNetlink()
    socks = [pair("127.0.0.1") for _ in range(40)]
    rates = ByteRates()
    compared, rows, templated, mixed, constant = [], 0, 0, 0, 0

    def reading(now: float, late: tuple = ()) -> None:
        nonlocal rows, templated, mixed, constant
        rates.start(now)
        for groups in (("tcp_info",), ("times", "tcp_info")):
            bits = diagext.request_bits(groups)
            reply = nl.dump(diagreq.diag_request(4, "tcp", states=0xFFFFFFFF, ext=bits))
            for batch in sockdiag.decode_batches(reply, "tcp", 4, DumpStats(), extensions=True):
                keys = socket_keys(batch)
                send, receive = rates.batch(keys, *byte_columns(batch.extensions))
                batch.measures = Measures(rates.seconds, send, receive, [2.5] * len(batch))
                for numeric in (True, False):
                    template, columns = ext_lines_for(groups, numeric)(batch)
                    made = ([template % row for row in zip(*columns)] if columns
                            else [template] * len(batch))
                    templated += "rate: send %.0f" in template
                    constant += "rate: send 0 B/s recv 0 B/s" in template  # the listeners
                    mixed += groups == ("tcp_info",) and template.endswith(" %s\n")
                    reference = [_under(extension_lines(ext, groups, numeric, True,
                                                        batch.measures.row(i)))
                                 for i, ext in enumerate(batch.extensions)]
                    compared.append(made == reference)
                    rows += len(batch)
        rates.finish()
        for make in late:
            make()

    reading(1.0)
    for _lst, client, server in socks[::2]:
        transfer(client, server, 50_000)
    reading(3.0, late=[lambda: socks.append(pair("127.0.0.1"))])  # a new one: no rate yet
    for _lst, client, server in socks[1::2]:
        transfer(server, client, 30_000)
    reading(4.5)  # the new one's first reading
    reading(6.0)  # every connection read before: a rate each
    return {"compared": compared, "rows": rows, "templated": templated, "mixed": mixed,
            "constant": constant}


def test_the_rate_columns_equal_the_rows_alone():
    got = isolated(rate_lines_scenario)
    assert got["rows"] >= 4 * 2 * 2 * 120 and got["compared"] and all(got["compared"])
    # each way of the template was taken: every row with a rate, the same rate in every row
    # (written into the template), and some rows without
    assert got["templated"] and got["constant"] and got["mixed"], got
