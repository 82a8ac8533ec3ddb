"""The other end of a connection on this host in ``--changes`` rows (issue 12; model/peers.py,
model/changes.PeerEnd): a connection opened between two passes is two ``+`` rows, and each names
the process at the other end, as a display's rows do: JSON and CSV ``peer_inode``, ``peer_pid``,
``peer_owners``; text ``-b`` the ``->``/``<-`` line above the owner lines. Each end is held by a
process of its own, named for its role; oracle ``ss -tanpeH`` (each end's inode and holder).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from test_csv_replay import read_csv
from test_peers_live import _client, _server, _ss, _ss_end, actors  # noqa: F401  (a fixture)

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _changes_run(argv: list[str], *, after_two_passes) -> tuple[str, object]:
    """``pynetstat ARGV --changes 0.2`` in a child; after two passes ``after_two_passes()`` (its
    result returned), then two more passes, then Ctrl+C; returns (stdout, that result)."""
    fd, log = tempfile.mkstemp(prefix="p12-passes-")
    os.close(fd)
    env = dict(os.environ, PYTHONPATH=SRC, PYNETSTAT_PASS_TIMES=log,
               PYNETSTAT_RESOLVE_BUDGET="1")
    tool = subprocess.Popen([sys.executable, "-m", "pynetstat", *argv, "--changes", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def wait(n: int) -> None:
        deadline = time.monotonic() + 120
        while True:
            with open(log) as f:
                if f.read().count("\n") >= n:
                    return
            assert tool.poll() is None, tool.communicate()
            assert time.monotonic() < deadline, "pynetstat made no pass in 120 s"
            time.sleep(0.05)

    try:
        wait(2)
        made = after_two_passes()
        with open(log) as f:
            done = f.read().count("\n")
        wait(done + 2)  # a pass that began after the connection was made has ended
        tool.send_signal(signal.SIGINT)
        out, err = tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:
            tool.kill()
        os.unlink(log)
    assert tool.returncode == 130, err
    return out.decode(), made  # (bytes: CSV's CRLF kept)


def _connect(start):
    """A server ``p12srv`` listening on 127.0.0.1, then (returned as the scene) a client
    ``p12cli`` connected to it; ``start``: the ``actors`` fixture."""
    server = start("p12srv", _server(socket.AF_INET, "127.0.0.1"))
    (port,) = server.read()

    def scene():
        client = start("p12cli", _client(socket.AF_INET, "127.0.0.1", port))
        _addr, cport = client.read()
        assert server.read() == ["127.0.0.1", cport]
        return client, cport, _ss(port)

    return server, port, scene


@pytest.mark.parametrize("fmt", ["--json", "--csv"])
def test_added_rows_name_the_other_end(fmt, actors):  # noqa: F811  (the fixture)
    server, port, scene = _connect(actors)
    out, (client, cport, ss) = _changes_run(["-ano", "-p", "tcp", "--port", str(port), fmt],
                                            after_two_passes=scene)
    if fmt == "--json":
        rows = [r["connection"] for r in map(json.loads, out.splitlines())
                if r["type"] == "connection" and r["change"] == "added"]
    else:
        table = read_csv(out)
        at = {name: i for i, name in enumerate(table[0])}
        rows = []
        for cells in table[1:]:
            if cells[at["change"]] != "added":
                continue
            row = {name: cells[at[name]] for name in ("local_port", "remote_port", "inode",
                                                      "peer_inode", "peer_pid", "pid")}
            row = {k: int(v) for k, v in row.items()}
            row["peer_owners"] = json.loads(cells[at["peer_owners"]])
            rows.append(row)
    by_end = {(r["local_port"], r["remote_port"]): r for r in rows}
    assert sorted(by_end) == sorted([(cport, port), (port, cport)])
    crow, srow = by_end[(cport, port)], by_end[(port, cport)]
    assert (crow["pid"], crow["peer_inode"], crow["peer_pid"], crow["peer_owners"]) == (
        client.pid, srow["inode"], server.pid, [{"pid": server.pid, "name": "p12srv"}])
    assert (srow["pid"], srow["peer_inode"], srow["peer_pid"], srow["peer_owners"]) == (
        server.pid, crow["inode"], client.pid, [{"pid": client.pid, "name": "p12cli"}])
    # the oracle: ss's inode and holder of each row's other end
    assert ss[(_ss_end("127.0.0.1", port), _ss_end("127.0.0.1", cport))] == (
        crow["peer_inode"], crow["peer_pid"])
    assert ss[(_ss_end("127.0.0.1", cport), _ss_end("127.0.0.1", port))] == (
        srow["peer_inode"], srow["peer_pid"])


def test_added_rows_b_lines_name_the_other_end(actors):  # noqa: F811  (the fixture)
    server, port, scene = _connect(actors)
    out, (client, cport, _ss_ends) = _changes_run(["-anb", "-p", "tcp", "--port", str(port)],
                                                  after_two_passes=scene)
    _first, _, after = out.partition("Changes every 0.2 s")
    lines = after.splitlines()
    under = {}
    for i, line in enumerate(lines):
        cells = line.split()
        if cells[1:3] == ["+", "TCP"]:
            under[(cells[3], cells[4])] = lines[i + 1:i + 3]
    # the other end right under the row, then the row's own owner lines (jc reads the last)
    assert under == {
        (f"127.0.0.1:{cport}", f"127.0.0.1:{port}"): [f"  -> p12srv {server.pid}",
                                                       f"  p12cli ({client.pid})"],
        (f"127.0.0.1:{port}", f"127.0.0.1:{cport}"): [f"  <- p12cli {client.pid}",
                                                       f"  p12srv ({server.pid})"],
    }
