"""MPTCP sockets (``-p mptcp``, ``-p mptcpv6``) against the live kernel: a listener and a
connection on 127.0.0.1 and on ::1 between two processes, in a network namespace of the test's
own, listed by pynetstat from mptcp_diag and by ``ss -M`` (iproute2) as the oracle.

Everything runs in one forked child that leaves the test's network namespace (so the dumps hold
exactly the scene's sockets), and comes back as plain data.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
from other_scene import Helper

from helpers import parse_table, run_inprocess
from test_json_schema import check

sys.path.insert(0, os.path.dirname(__file__))
from attack.sandbox import CLONE_NEWNET, in_child, unshare  # noqa: E402

IPPROTO_MPTCP = 262
HOSTS = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}


def _mptcp_works() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP).close()
    except OSError:
        return False
    return True


pytestmark = [pytest.mark.root, pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("ss") or not _mptcp_works(),
    reason="needs root, ip, ss and a kernel with MPTCP")]


def _server(accepted_w: int):
    """Listeners on 127.0.0.1 and ::1; a thread accepts one connection on each, then writes a
    byte to ``accepted_w``."""
    listeners = {}
    for family, host in HOSTS.items():
        sock = socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)
        sock.bind((host, 0))
        sock.listen(4)
        listeners[family] = sock
    held: list[socket.socket] = list(listeners.values())

    def accept() -> None:
        for sock in listeners.values():
            conn, _ = sock.accept()
            held.append(conn)
        os.write(accepted_w, b"x")

    threading.Thread(target=accept, daemon=True).start()
    return held, {"pid": os.getpid(),
                  "ports": {str(f): s.getsockname()[1] for f, s in listeners.items()}}


def _client(ports: dict):
    held = []
    local = {}
    for family, host in HOSTS.items():
        sock = socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)
        sock.connect((host, ports[str(family)]))
        sock.sendall(b"hello")
        held.append(sock)
        local[str(family)] = sock.getsockname()[1]
    return held, {"pid": os.getpid(), "ports": local}


def _scene():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)
    accepted_r, accepted_w = os.pipe()
    server = Helper(lambda: _server(accepted_w))
    client = Helper(lambda: _client(server.result["ports"]))
    os.read(accepted_r, 1)
    try:
        runs = {name: run_inprocess(argv, resolve_budget="0").__dict__ for name, argv in (
            ("an4", ["-an", "-p", "mptcp"]), ("an6", ["-an", "-p", "MPTCPv6"]),
            ("ano", ["-ano", "-p", "mptcp,mptcpv6"]), ("n", ["-n", "-p", "mptcp,mptcpv6"]),
            ("json", ["-ano", "-p", "mptcp,mptcpv6", "--json"]),
            ("all", ["-ano", "-p", "all"]),
            ("info", ["-an", "-p", "mptcp", "--info", "--timers", "--json"]),
            ("info_text", ["-an", "-p", "mptcp,mptcpv6", "--info"]),
            ("pid", ["-ano", "-p", "mptcp,mptcpv6", "--pid", str(server.result["pid"])]),
            ("port", ["-an", "-p", "mptcp,mptcpv6",
                      "--lport", str(server.result["ports"][str(socket.AF_INET6)])]))}
        ss = {flags: subprocess.run(["ss", flags], capture_output=True, text=True, check=True).stdout
              for flags in ("-MaHn", "-MaH", "-MaHni")}
    finally:
        for helper in (client, server):
            helper.release()
            helper.wait()
    return {"runs": runs, "ss": ss, "server": server.result, "client": client.result}


@pytest.fixture(scope="module")
def live():
    return in_child(_scene, setup=lambda: unshare(CLONE_NEWNET))


def _endpoint(family: int, host: str, port: int) -> str:
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


def expected_rows(live) -> set[tuple[str, ...]]:
    """(Proto, Local, Foreign, State, PID) of every socket of the scene."""
    server, client = live["server"], live["client"]
    rows = set()
    for family, host in HOSTS.items():
        lport, cport = server["ports"][str(family)], client["ports"][str(family)]
        wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
        listener, accepted, connected = (_endpoint(family, host, lport),
                                         _endpoint(family, host, lport),
                                         _endpoint(family, host, cport))
        rows.add(("MPTCP", listener, _endpoint(family, wildcard, 0), "LISTENING",
                  str(server["pid"])))
        rows.add(("MPTCP", accepted, connected, "ESTABLISHED", str(server["pid"])))
        rows.add(("MPTCP", connected, accepted, "ESTABLISHED", str(client["pid"])))
    return rows


def test_rows_with_owners_are_exactly_the_scene(live):
    result = live["runs"]["ano"]
    assert result["status"] == 0 and result["err"] == "", result
    rows = parse_table(result["out"], pids=True)
    assert len(rows) == 6
    assert set(rows) == expected_rows(live)


def test_each_family_alone(live):
    expected = expected_rows(live)
    for name, v6 in (("an4", False), ("an6", True)):
        result = live["runs"][name]
        assert result["status"] == 0 and result["err"] == "", result
        rows = set(parse_table(result["out"], pids=False))
        assert rows == {row[:4] for row in expected if row[1].startswith("[") == v6}


def test_without_a_the_connections_only(live):
    rows = set(parse_table(live["runs"]["n"]["out"], pids=False))
    assert rows == {row[:4] for row in expected_rows(live) if row[3] == "ESTABLISHED"}


def _ss_endpoint(text: str, family: int) -> tuple[str, str]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if host == "*":
        host = "::" if family == socket.AF_INET6 else "0.0.0.0"
    return host, "0" if port == "*" else port


def _ss_rows(text: str) -> set[tuple[str, ...]]:
    """``ss -MaHn`` rows as (Local, Foreign, State), in pynetstat's words."""
    states = {"LISTEN": "LISTENING", "ESTAB": "ESTABLISHED"}
    rows = set()
    for line in text.splitlines():
        state, _recv, _send, local, peer = line.split()[:5]
        family = socket.AF_INET6 if local.startswith("[") else socket.AF_INET
        rows.add((_endpoint(family, *_ss_endpoint(local, family)),
                  _endpoint(family, *_ss_endpoint(peer, family)), states.get(state, state)))
    return rows


def test_same_sockets_as_ss(live):
    ours = {(local, foreign, state)
            for _p, local, foreign, state, _pid in parse_table(live["runs"]["ano"]["out"])}
    assert ours == _ss_rows(live["ss"]["-MaHn"])
    assert len(live["ss"]["-MaH"].splitlines()) == 6  # the same count with service names


def result_json(result: dict) -> dict:
    return json.loads(result["out"])


def test_json(live):
    result = live["runs"]["json"]
    assert result["status"] == 0 and result["err"] == "", result
    doc = result_json(result)
    conns = doc["connections"]
    for record in conns:
        check(record, "### A connection")
    assert {(c["proto"], c["family"]) for c in conns} == {("mptcp", "ipv4"), ("mptcp6", "ipv6")}
    assert {(c["family"], c["state"]) for c in conns} == {
        (f, s) for f in ("ipv4", "ipv6") for s in ("LISTENING", "ESTABLISHED")}
    assert doc["sources"] == {"mptcp": "netlink", "mptcp6": "netlink"}
    pids = {live["server"]["pid"], live["client"]["pid"]}
    assert all(c["pid"] in pids and c["inode"] > 0 and c["cookie"] for c in conns)


def test_all_lists_mptcp_beside_the_other_kinds(live):
    result = live["runs"]["all"]
    assert result["status"] == 0, result
    rows = {row for row in parse_table(result["out"], pids=True) if row[0] == "MPTCP"}
    assert rows == expected_rows(live)


def test_info_is_mptcp_info(live):
    """An MPTCP socket's INET_DIAG_INFO is struct mptcp_info: read so, never as tcp_info; the
    timer is an inet socket's and is there."""
    result = live["runs"]["info"]
    assert result["status"] == 0 and result["err"] == "", result
    conns = result_json(result)["connections"]
    assert len(conns) == 3
    assert all(c["tcp_info"] is None and c["timer"] is not None for c in conns)
    for c in conns:
        check(c["mptcp_info"], "### mptcp_info")
    connected = [c["mptcp_info"] for c in conns if c["state"] == "ESTABLISHED"]
    # each end's write_seq is what the other end expects next; 5 bytes were sent each way
    first, second = connected
    assert first["write_seq"] == second["rcv_nxt"] and second["write_seq"] == first["rcv_nxt"]
    assert first["token"] != second["token"] and all(c["token"] for c in connected)
    assert all(c["flag_names"] == ["remote_key"] for c in connected)


def _words_by_ends(text: str, ss: bool) -> dict[tuple[str, str], set[str]]:
    """The --info words under each row, by (local, foreign) as each tool writes them."""
    out: dict[tuple[str, str], set[str]] = {}
    ends = None
    for line in text.splitlines()[0 if ss else 4:]:
        if not line.strip():
            continue
        if line[0].isspace() and not line.startswith("  MPTCP"):
            if ends is not None:
                out[ends] = set(line.split())
            continue
        cells = line.split()
        ends = (cells[3], cells[4]) if ss else (cells[1], cells[2])
    return out


def test_info_line_holds_what_ss_prints(live):
    """ss -Mi prints the fields that are not 0 (iproute2 6.1: those of Linux 5.14); every word
    it prints for a connection is in ours, and ours has them all, 0s too."""
    result = live["runs"]["info_text"]
    assert result["status"] == 0 and result["err"] == "", result
    ours = _words_by_ends(result["out"], ss=False)
    theirs = _words_by_ends(live["ss"]["-MaHni"], ss=True)
    established = [ends for ends in ours if not ends[1].endswith(":0")]
    assert len(established) == 4
    for local, foreign in established:
        ss_ends = (local, foreign)
        assert theirs[ss_ends] <= ours[(local, foreign)], (theirs[ss_ends], ours[(local, foreign)])
        assert {"remote_key", "subflows:0", "subflows_total:1"} <= ours[(local, foreign)]


def test_owner_filter_keeps_the_processes_sockets(live):
    """--pid asks the kernel for the ends of the process's own sockets (pidfd_getfd): an MPTCP
    socket reports IPPROTO_MPTCP, and its ends go into the MPTCP request."""
    result = live["runs"]["pid"]
    assert result["status"] == 0 and result["err"] == "", result
    server = str(live["server"]["pid"])
    assert set(parse_table(result["out"], pids=True)) == {
        row for row in expected_rows(live) if row[4] == server}


def test_port_filter_goes_into_the_request(live):
    result = live["runs"]["port"]
    assert result["status"] == 0 and result["err"] == "", result
    port = f":{live['server']['ports'][str(socket.AF_INET6)]}"
    assert set(parse_table(result["out"], pids=False)) == {
        row[:4] for row in expected_rows(live) if row[1].startswith("[") and row[1].endswith(port)}
