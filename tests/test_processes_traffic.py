"""-c (processes by the ports they hold) on the live kernel: the Name column, --csv, and with
--info the bytes each process's TCP connections moved and, in interval mode, per second.

The scene, in a private network namespace: a receiver process and a sender process joined by one
loopback connection. The sender first sends a known number of bytes (the receiver says when it
has read them all), then sends at a known pace, catching up with the clock, so that over any
half second it has sent that rate's share within one 20 ms slice.
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time

from test_csv import env_for_subprocess
from test_interval_live import isolated

FIRST = 1_000_000  # bytes sent before the pacing starts
RATE = 400_000  # bytes per second, paced

RECEIVER = textwrap.dedent("""
    import socket, sys
    with open("/proc/self/comm", "w") as f:
        f.write("pnst-recv")
    lst = socket.create_server(("127.0.0.1", 0))
    print(lst.getsockname()[1], flush=True)
    conn, _ = lst.accept()
    got = 0
    while got < int(sys.argv[1]):
        got += len(conn.recv(1 << 16))
    print("got", got, flush=True)
    while conn.recv(1 << 16):
        pass
""")

SENDER = textwrap.dedent("""
    import socket, sys, time
    with open("/proc/self/comm", "w") as f:
        f.write("pnst-send")
    port, first, rate = map(int, sys.argv[1:])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"x" * first)
    sys.stdin.readline()  # the test saw the first bytes counted: start the pace
    start, sent = time.monotonic(), 0
    while True:
        due = int((time.monotonic() - start) * rate)
        if due > sent:
            s.sendall(b"y" * (due - sent))
            sent = due
        time.sleep(0.02)
""")


def pynetstat(*argv: str) -> str:
    p = subprocess.run([sys.executable, "-m", "pynetstat", *argv], capture_output=True,
                       timeout=60, env=env_for_subprocess(), text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def scenario() -> dict:
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(FIRST)],
                                stdout=subprocess.PIPE, text=True)
    sender = None
    try:
        port = receiver.stdout.readline().strip()
        sender = subprocess.Popen([sys.executable, "-c", SENDER, port, str(FIRST), str(RATE)],
                                  stdin=subprocess.PIPE, text=True)
        assert receiver.stdout.readline().split()[0] == "got"
        out = {"pids": {"send": sender.pid, "recv": receiver.pid},
               "text": pynetstat("-c"), "json": json.loads(pynetstat("-c", "--json")),
               "csv": pynetstat("-c", "--csv"),
               "info_text": pynetstat("-c", "--info"),
               "info_json": json.loads(pynetstat("-c", "--info", "--json"))}
        sender.stdin.write("go\n")
        sender.stdin.flush()
        time.sleep(0.3)
        watch = subprocess.Popen([sys.executable, "-m", "pynetstat", "-c", "--info", "--json",
                                  "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env_for_subprocess(), text=True)
        passes = []
        try:
            while len(passes) < 7:
                line = watch.stdout.readline()
                assert line, watch.stderr.read()
                passes.append(json.loads(line))
        finally:
            watch.terminate()
            watch.communicate(timeout=10)
        out["passes"] = passes
        return out
    finally:
        for p in (sender, receiver):
            if p is not None:
                p.kill()
                p.wait()


def by_pid(records: list[dict], pids: dict) -> dict:
    wanted = {pid: role for role, pid in pids.items()}
    return {wanted[r["pid"]]: r for r in records if r["pid"] in wanted}


def test_processes_by_ports_bytes_and_rates():
    r = isolated(scenario)
    pids = r["pids"]

    # -c: each process's row names it (the Name column read /proc/PID/comm).
    rows = {line.split()[3]: line.split() for line in r["text"].splitlines()[4:] if line.strip()}
    assert rows[str(pids["send"])] == ["1", "1", "0", str(pids["send"]), "pnst-send"]
    assert rows[str(pids["recv"])] == ["2", "2", "0", str(pids["recv"]), "pnst-recv"]  # + listener

    # -c --csv: the JSON records, a column per key.
    table = list(csv.DictReader(io.StringIO(r["csv"], newline="")))
    from_csv = by_pid([{**row, "pid": int(row["pid"])} for row in table], pids)
    from_json = by_pid(r["json"]["processes"], pids)
    for role in ("send", "recv"):
        assert {k: from_csv[role][k] for k in ("name", "ports", "tcp", "udp", "bytes_sent")} == {
            "name": from_json[role]["name"], "ports": str(from_json[role]["ports"]),
            "tcp": str(from_json[role]["tcp"]), "udp": str(from_json[role]["udp"]),
            "bytes_sent": ""}
    assert from_json["send"]["bytes_sent"] is None  # not asked for: not measured

    # -c --info: what the connections moved, the first FIRST bytes at least.
    info = by_pid(r["info_json"]["processes"], pids)
    assert info["send"]["bytes_sent"] >= FIRST
    assert info["recv"]["bytes_received"] >= FIRST
    assert info["send"]["send_bytes_per_sec"] is None  # one reading: no rate
    heading = r["info_text"].splitlines()[3].split()
    assert heading == ["Ports", "TCP", "UDP", "Sent", "Received", "Send/s", "Recv/s", "PID",
                       "Name"]
    line = next(ln.split() for ln in r["info_text"].splitlines() if ln.endswith("pnst-send"))
    assert int(line[3]) >= FIRST and line[5:7] == ["-", "-"]

    # -c --info 0.5: the pace, measured per pass, from the second pass on.
    passes = r["passes"]
    assert [p["pass"] for p in passes] == list(range(1, 8))
    first = by_pid(passes[0]["processes"], pids)
    assert first["send"]["send_bytes_per_sec"] is None
    sends = [by_pid(p["processes"], pids)["send"]["send_bytes_per_sec"] for p in passes[1:]]
    receives = [by_pid(p["processes"], pids)["recv"]["receive_bytes_per_sec"] for p in passes[1:]]
    assert abs(statistics.median(sends) - RATE) <= 0.2 * RATE, sends
    assert abs(statistics.median(receives) - RATE) <= 0.2 * RATE, receives
    # the busiest process comes first once rates are known
    assert {passes[-1]["processes"][0]["pid"], passes[-1]["processes"][1]["pid"]} == set(
        pids.values())
    assert all(p["host"] == os.uname().nodename for p in passes)


def test_c_with_changes_is_refused():
    p = subprocess.run([sys.executable, "-m", "pynetstat", "-c", "--changes", "1"],
                       capture_output=True, text=True, env=env_for_subprocess(), timeout=30)
    assert p.returncode == 2
    assert p.stderr.splitlines()[0].startswith("pynetstat: -c redisplays the whole table")
