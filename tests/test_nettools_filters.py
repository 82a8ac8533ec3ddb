"""The filters in the net-tools face (issue 18): ``pynetstat --nettools ... --state/--port/...``
keeps the rows the Windows face's filters keep (one filter, select.py), on the live scene of
tests/test_filter_cli.py (a network namespace with listeners, connections, UDP sockets, chosen
addresses, ports, states, devices and uids, and processes of chosen names, units and containers).

Each case: the face's filtered ``--json`` rows equal the rows of an unfiltered ``pynetstat -an
--json`` that the plain predicate of tests/test_filter_cli.py keeps; for the TCP cases where ss
has the same expression, the face's text rows equal ``ss -tanH EXPRESSION``'s. RAW and UNIX
sockets follow the rule of the kinds without ports (docs/filters.md, "Socket kinds"), checked
against the unfiltered listing and against ``ss -xlH``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import test_filter_cli as scene  # noqa: E402  (the scene, its predicate and its cases)
from test_filter_cli import SOCKET_CASES, SS_CASES, argv_of, keeps  # noqa: E402

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]


@pytest.fixture(scope="module")
def world():
    """test_filter_cli's scene (its fixture's body: one scene per module)."""
    yield from scene.world.__wrapped__()


def windows_key(row: dict) -> tuple:
    """A Windows-face JSON row as the face's rows are compared (its proto is net-tools')."""
    return (row["proto"], row["local_address"],
            row["local_port"], row["remote_address"], row["remote_port"], row["uid"], row["inode"])


def nettools_key(row: dict) -> tuple:
    return (row["proto"], row["local_address"], row["local_port"], row["foreign_address"],
            row["foreign_port"], row["user"], row["inode"])


def check(world, conditions, windows=("-an",), face=("-tuan",)) -> list[tuple]:
    """The face's filtered rows equal the predicate over the unfiltered Windows-face rows (asked
    again when a socket came or went between the runs). The kept keys."""
    for _attempt in range(3):
        before = world.run([*windows, "--json"]).json()["connections"]
        result = world.run(["--nettools", *face, "--json", *argv_of(conditions)])
        after = world.run([*windows, "--json"]).json()["connections"]
        if sorted(map(windows_key, before)) == sorted(map(windows_key, after)):
            break
    assert (result.status, result.err) == (0, ""), result
    want = sorted(windows_key(r) for r in before if keeps(r, conditions, world))
    got = sorted(map(nettools_key, result.json()))
    assert got == want, conditions
    return got


def test_unfiltered_rows_are_the_windows_face_rows(world):
    assert len(check(world, [])) > 20


@pytest.mark.parametrize("conditions", SOCKET_CASES, ids=lambda c: " ".join(argv_of(c)))
def test_socket_filters_equal_the_plain_predicate(world, conditions):
    assert check(world, conditions) or conditions[0][3] or conditions[0][0] == "addr"


OWNER_CASES = [
    [("process", None, ["fltalpha"], False)],
    [("process", None, ["flt*"], False), ("state", None, ["listening"], False)],
    [("process", None, ["flt*"], True)],
    [("unit", None, ["fltunit-*"], False)],
    [("container", None, ["docker:*"], False), ("port", "local", ["6004"], False)],
]


@pytest.mark.parametrize("conditions", OWNER_CASES, ids=lambda c: " ".join(argv_of(c)))
def test_owner_filters_equal_the_plain_predicate(world, conditions):
    assert check(world, conditions, windows=("-ano",)) or conditions[0][3]


def test_pid_filter_and_programs_column(world):
    """--pid with -p: the rows of that process, each naming it in PID/Program name."""
    pid = world.pids["fltbeta"]
    keys = check(world, [("pid", None, [str(pid)], False)], windows=("-ano",))
    assert len(keys) == 3  # its listener and the two ends of its connection
    text = world.run(["--nettools", "-tanp", "--pid", str(pid)])
    rows = text.out.splitlines()[2:]
    assert (text.status, len(rows)) == (0, 3), text
    assert all(row.split()[6] == f"{pid}/python3" or row.split()[6].startswith(f"{pid}/")
               for row in rows), rows


def test_text_rows_are_the_json_rows(world):
    """The text table keeps what --json keeps (one selection for both), -l/-a as net-tools
    reads them on top: without -a the servers are left out, with -l only they are listed."""
    for face in (["-tan"], ["-tn"], ["-tln"], ["-uan"]):
        args = [*face, "--lport", "5353-9001"]
        text = world.run(["--nettools", "-W", *args]).out.splitlines()[2:]
        rows = world.run(["--nettools", *args, "--json"]).json()
        assert sorted(int(line.split()[3].rpartition(":")[2]) for line in text) == sorted(
            r["local_port"] for r in rows), face
        servers = {r["foreign_port"] == 0 if r["proto"].startswith("tcp")
                   else r["foreign_address"] in ("::", "0.0.0.0") for r in rows}
        assert servers == ({True} if "l" in face[0] else {False} if "a" not in face[0]
                           else {True, False}), face


# ss's names for the states, as net-tools prints them
SS_STATES = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
             "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
             "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN",
             "CLOSING": "CLOSING"}


@pytest.mark.skipif(shutil.which("ss") is None, reason="iproute2's ss is not installed")
@pytest.mark.parametrize(("argv", "expression"), [*SS_CASES, (
    ["--state", "established,syn-sent", "--addr", "192.0.2.0/24"],
    "state established state syn-sent ( src 192.0.2.0/24 or dst 192.0.2.0/24 )")])
def test_tcp_rows_equal_ss(world, argv, expression):
    """``netstat -tanW FILTER`` (the face's text) and ``ss -tanH EXPRESSION``: the same
    (state, local port, foreign port) rows."""
    for _attempt in range(3):
        ours = world.run(["--nettools", "-tanW", *argv])
        mine = sorted((f[5], int(f[3].rpartition(":")[2]), int(f[4].rpartition(":")[2].replace("*", "0")))
                      for f in (line.split() for line in ours.out.splitlines()[2:]))
        with world.netns.inside():
            out = subprocess.run(["ss", "-tanH", *expression.split()], capture_output=True,
                                 text=True, check=True).stdout
        theirs = sorted((SS_STATES[f[0]], int(f[3].rpartition(":")[2]),
                         int(f[4].rpartition(":")[2].replace("*", "0")))
                        for f in (line.split() for line in out.splitlines()))
        if mine == theirs:
            break
    assert (ours.status, ours.err) == (0, "")
    assert mine == theirs
    assert mine or expression.startswith("state time") or "443" in expression


def _unix_scene(world, tmp_path):
    """A UNIX listener, a connected pair and a RAW socket, made inside the scene's namespace
    (UNIX sockets are not per namespace: the test's are told apart by inode)."""
    with world.netns.inside():
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(tmp_path / "flt.sock"))
        listener.listen(2)
        pair = socket.socketpair()
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    return [listener, *pair, raw]


def _inodes(rows: list[dict], proto: str) -> set[int]:
    return {r["inode"] for r in rows if r["proto"] == proto}


def test_unix_and_raw_follow_the_rules_of_kinds_without_ports(world, tmp_path):
    held = _unix_scene(world, tmp_path)
    try:
        listener, one, other, raw = (os.fstat(s.fileno()).st_ino for s in held)
        everything = world.run(["--nettools", "-xwa", "--json"]).json()
        assert {listener, one, other} <= _inodes(everything, "unix")
        assert raw in _inodes(everything, "raw")
        # --state: a UNIX listener is LISTEN, a connected socket ESTABLISHED (as unix_diag and
        # ss say); a RAW socket that is not connected is CLOSE
        listening = world.run(["--nettools", "-xwa", "--json", "--state", "listening"]).json()
        assert listener in _inodes(listening, "unix") and not {one, other} & _inodes(listening, "unix")
        assert not _inodes(listening, "raw")
        connected = world.run(["--nettools", "-xa", "--json", "--state", "established"]).json()
        assert {one, other} <= _inodes(connected, "unix") and listener not in _inodes(connected, "unix")
        closed = world.run(["--nettools", "-wa", "--json", "--state", "closed"]).json()
        assert raw in _inodes(closed, "raw")
        # an owner condition: the sockets this process holds, whatever their kind
        mine = world.run(["--nettools", "-xwa", "--json", "--pid", str(os.getpid())]).json()
        assert {listener, one, other} == _inodes(mine, "unix") and {raw} == _inodes(mine, "raw")
        # a condition on ports, addresses or users: they have none to meet, negated or not
        for argv in (["--port", "1"], ["--port", "!1"], ["--user", "!nobody"], ["--addr", "::/0"]):
            result = world.run(["--nettools", "-xwa", *argv])
            rows = [line for line in result.out.splitlines()
                    if not line.startswith(("Active ", "Proto "))]
            assert result.status == 0 and not rows, (argv, result.out)
        # ss: the UNIX listeners are the same sockets
        with world.netns.inside():
            out = subprocess.run(["ss", "-xlH"], capture_output=True, text=True, check=True).stdout
        theirs = {int(f[5]) for f in (line.split() for line in out.splitlines())}
        ours = _inodes(world.run(["--nettools", "-x", "--json", "--state", "listening"]).json(), "unix")
        assert ours == theirs and listener in ours
    finally:
        for sock in held:
            sock.close()


def test_interface_narrows_the_interface_route_and_group_tables(world):
    i = world.run(["--nettools", "-ia", "--interface", "v0"])
    assert [line.split()[0] for line in i.out.splitlines()[2:]] == ["v0"], i.out
    r = world.run(["--nettools", "-rn", "--interface", "v0"])
    assert {line.split()[-1] for line in r.out.splitlines()[2:]} == {"v0"}, r.out
    assert not world.run(["--nettools", "-rn", "--interface", "lo"]).out.splitlines()[2:]
    g = world.run(["--nettools", "-gn", "--interface", "!v0"])
    devices = {line.split()[0] for line in g.out.splitlines()[3:]}
    assert devices and "v0" not in devices, g.out


@pytest.mark.parametrize(("argv", "bad"), [
    (["--port", "70000"], "'70000'"), (["--state", "listenin"], "'listenin'"),
    (["--interface", "nosuch0"], "'nosuch0'"), (["--pid", "0"], "'0'"),
])
def test_a_malformed_value_is_one_line_and_exit_2(world, argv, bad):
    for view in (["-tan"], ["-tan", "--json"], ["-i"], ["-x"]):
        result = world.run(["--nettools", *view, *argv])
        assert (result.status, result.out) == (2, ""), result
        assert len(result.err.splitlines()) == 1 and bad in result.err, result.err
    missing = world.run(["--nettools", "-tan", "--port"])
    assert missing.status == 2 and "requires an argument" in missing.err
