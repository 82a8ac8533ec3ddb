"""--csv with -d, --timers, --memory, --info and -i (docs/csv.md): the JSON row's ``timer``,
``memory`` and ``tcp_info`` objects become one column per key (``tcp_info_rtt_us``), in place.

The kernel is read once: the JSON run records every dump it makes (RecordingNetlink over the
live kernel, a loopback scene of the test's own), and the CSV run replays that recording, so the
two print the same sockets with the same counters and every cell can be compared exactly with
the JSON value it stands for.
"""

from __future__ import annotations

import csv
import json
import socket

import pytest

from conftest import run_inprocess
from pynetstat.linux.netlink import LiveNetlink, RecordingNetlink, ReplayNetlink
from test_csv_replay import assert_rows_equal, read_csv

OBJECTS = ("timer", "memory", "tcp_info")


@pytest.fixture
def scene():
    """A listener, an accepted connection that moved 5,000 bytes one way, the client's packets
    marked DSCP 46 (EF), and a UDP socket (no tcp_info: its columns are empty)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    client = socket.socket()
    client.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 46 << 2)
    client.connect(listener.getsockname())
    server, _ = listener.accept()
    client.sendall(b"x" * 5000)
    got = 0
    while got < 5000:
        got += len(server.recv(65536))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        yield {"listener": listener.getsockname()[1], "client": client.getsockname()[1],
               "udp": udp.getsockname()[1]}
    finally:
        for s in (listener, client, server, udp):
            s.close()


def spread(record: dict, header: list[str]) -> dict:
    """The JSON record as the CSV columns should hold it: each extension object the header
    spreads (``NAME_KEY`` columns) replaced in place by one entry per key; null gives nulls."""
    out: dict = {}
    for name, value in record.items():
        keys = [h[len(name) + 1:] for h in header if h.startswith(name + "_")] \
            if name in OBJECTS else []
        if keys:
            out.update({f"{name}_{key}": None if value is None else value[key] for key in keys})
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("flags", [["--info"], ["--timers"], ["--memory"], ["-d"], ["-i"],
                                   ["-d", "--timers", "--memory", "--info"]], ids=" ".join)
def test_csv_extension_cells_are_the_json_values(scene, tmp_path, flags):
    # the scene's sockets only (the host may hold thousands that come and go)
    argv = ["-an", *flags, "--port", ",".join(map(str, scene.values()))]
    as_json = run_inprocess([*argv, "--json"], environ={},
                            netlink=RecordingNetlink(LiveNetlink(), str(tmp_path)))
    assert as_json.status == 0, as_json.err
    as_csv = run_inprocess([*argv, "--csv"], environ={}, netlink=ReplayNetlink(str(tmp_path)))
    assert as_csv.status == 0, as_csv.err
    rows = read_csv(as_csv.out)
    header = rows[0]
    records = json.loads(as_json.out)["connections"]
    assert_rows_equal(rows, [spread(r, header) for r in records])

    # The columns: no object column is left as JSON text where its group was asked for.
    asked = {"--info": ["tcp_info"], "--timers": ["timer"], "--memory": ["memory"],
             "-i": ["timer", "tcp_info"], "-d": []}
    spread_now = {name for flag in flags for name in asked[flag]}
    for name in OBJECTS:
        assert (name in header) == (name not in spread_now), (name, header)
        assert any(h.startswith(name + "_") for h in header) == (name in spread_now)

    # The scene's sockets are there with what the test did to them (found by both ends: a
    # TIME_WAIT socket of an earlier test may have the same local port).
    client = next(r for r in records if r["local_port"] == scene["client"]
                  and r["remote_port"] == scene["listener"] and r["state"] == "ESTABLISHED")
    udp = next(r for r in records if r["local_port"] == scene["udp"] and r["proto"] == "udp")
    if "--info" in flags:
        assert client["tcp_info"]["bytes_acked"] >= 5000
        assert udp["tcp_info"] is None
    if "-d" in flags:
        assert client["dscp"] == 46
    row = next(r for r in (dict(zip(header, r)) for r in rows[1:])
               if r["local_port"] == str(scene["client"])
               and r["remote_port"] == str(scene["listener"]) and r["state"] == "ESTABLISHED")
    if "--info" in flags:
        assert int(row["tcp_info_bytes_acked"]) >= 5000
        assert row["tcp_info_congestion"] in ("cubic", "bbr", "reno")
        udp_row = next(r for r in (dict(zip(header, r)) for r in rows[1:])
                       if r["local_port"] == str(scene["udp"]) and r["proto"] == "udp")
        assert {udp_row[h] for h in header if h.startswith("tcp_info_")} == {""}
    if "-d" in flags:
        assert row["dscp"] == "46"


def test_csv_extensions_in_interval_mode_one_header(scene):
    """An interval stream with --info: one header (timestamp, pass, host, then the spread
    columns), every row as long as the header."""
    import subprocess
    import sys

    from test_csv import env_for_subprocess

    ports = ",".join(map(str, scene.values()))
    p = subprocess.Popen([sys.executable, "-m", "pynetstat", "-an", "--info", "--csv", "--port",
                          ports, "0.2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for_subprocess())
    try:
        lines = []
        while len(lines) < 200:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line.decode())
            if len(lines) > 1 and next(csv.reader([lines[-1]]))[1] == "3":
                break  # two whole passes are in
    finally:
        p.terminate()
        p.communicate(timeout=10)
    text = "".join(lines)
    rows = read_csv(text)
    header = rows[0]
    assert header[:3] == ["timestamp", "pass", "host"]
    assert "tcp_info_rtt_us" in header and "tcp_info" not in header
    assert sum(1 for r in rows if r[0] == "timestamp") == 1
    assert all(len(r) == len(header) for r in rows)
    assert {r[1] for r in rows[1:]} >= {"1", "2"}
