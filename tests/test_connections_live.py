"""The connection table against the live kernel: real loopback sockets in every state loopback can
hold, a child process that owns a listener, a socket two processes share, SO_REUSEPORT and
IPv4-mapped peers; the exact rows pynetstat prints for them, in text and JSON, run in-process and
as a subprocess. Rows are picked out by their endpoints: the host may hold any number of other
sockets (including other sockets on the same ports)."""

from __future__ import annotations

import collections
import os

import pytest
from record import LISTEN, MAPPED, TIME_WAIT, V4, has_ipv6

from conftest import (
    JSON_FIELDS,
    RUNNERS,
    SPEC_STATES,
    cells_key,
    expected_cells,
    expected_record,
    parse_table,
    record_key,
)

HOW = sorted(RUNNERS)
IPV6 = has_ipv6()


@pytest.fixture(scope="module")
def scene(loopback_scene):
    return loopback_scene


@pytest.fixture(scope="module")
def run(scene):
    """``run(how, *argv)``: each command line runs once per way while the module's sockets stand."""
    cache: dict = {}

    def run(how: str, *argv: str):
        key = (how, argv)
        if key not in cache:
            cache[key] = RUNNERS[how](list(argv))
            assert cache[key].status == 0, cache[key]
        return cache[key]
    return run


def ours(rows, expected_keys) -> list:
    """The rows whose (proto, local, foreign) belong to a socket of the scene, sorted."""
    return sorted(r for r in rows if cells_key(r) in expected_keys)


def text_check(result, rows, with_pid: bool) -> None:
    want = sorted(expected_cells(r, with_pid) for r in rows)
    got = ours(parse_table(result.stdout), {cells_key(c) for c in want})
    assert got == want


def json_records(result, rows) -> list[dict]:
    keys = {r.key for r in rows}
    return sorted((rec for rec in result.json()["connections"] if record_key(rec) in keys),
                  key=lambda rec: (repr(record_key(rec)), rec["inode"]))


def json_check(result, rows, with_owners: bool) -> None:
    got = json_records(result, rows)
    want = sorted((expected_record(r, with_owners) for r in rows),
                  key=lambda rec: (repr(record_key(rec)), rec["inode"]))
    assert len(got) == len(want)
    assert [{k: rec[k] for k in exp} for rec, exp in zip(got, want)] == want
    for rec in got:
        assert set(rec) == JSON_FIELDS
        for field in ("recv_q", "send_q", "uid", "cookie", "local_port", "remote_port", "inode"):
            if field == "uid" and rec["inode"] == 0 and rec["kernel_state"] in ("TIME_WAIT", "SYN_RECV"):
                assert rec["uid"] is None, rec  # a TIME_WAIT or request socket keeps no uid
                continue
            assert type(rec[field]) is int, (field, rec)


@pytest.mark.parametrize("how", HOW)
def test_all_numeric(run, scene, how):
    result = run(how, "-an")
    assert "PID" not in result.stdout.split("\n")[3]
    text_check(result, scene.rows(), with_pid=False)


@pytest.mark.parametrize("how", HOW)
def test_all_numeric_with_owners(run, scene, how):
    text_check(run(how, "-ano"), scene.rows(), with_pid=True)


@pytest.mark.parametrize("how", HOW)
def test_json_with_owners(run, scene, how):
    result = run(how, "-ano", "--json")
    json_check(result, scene.rows(), with_owners=True)
    doc = result.json()
    assert doc["schema_version"] == 1
    assert doc["sources"] == {"tcp": "netlink", "tcp6": "netlink", "udp": "netlink", "udp6": "netlink"}
    assert (doc["netlink"]["malformed"], doc["netlink"]["foreign"]) == (0, 0)


@pytest.mark.parametrize("how", HOW)
def test_json_without_owners_has_null_pid_and_owners(run, scene, how):
    json_check(run(how, "-an", "--json"), scene.rows(), with_owners=False)


@pytest.mark.parametrize("how", HOW)
def test_default_view_is_active_tcp_only(run, scene, how):
    """No flags but -n: established and closing TCP connections; no listeners, no UDP at all."""
    result = run(how, "-n")
    rows = parse_table(result.stdout)
    assert not [r for r in rows if r[0] == "UDP" or r[3] == "LISTENING"]
    every = scene.rows()
    active = [r for r in every if r.proto == "tcp" and r.state != LISTEN]
    assert len(active) >= 10
    text_check(result, active, with_pid=False)
    hidden = {cells_key(expected_cells(r, False)) for r in every if r not in active}
    assert not [r for r in rows if cells_key(r) in hidden]


@pytest.mark.parametrize("how", HOW)
def test_without_all_udp_selects_nothing(run, scene, how):
    assert parse_table(run(how, "-no", "-p", "udp").stdout) == []


PROTOCOLS = [("tcp", "tcp", 4), ("UDP", "udp", 4), ("TCPv6", "tcp", 6), ("udpV6", "udp", 6)]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize(("spelling", "proto", "family"), PROTOCOLS)
def test_protocol_selects_one_table(run, scene, how, spelling, proto, family):
    if family == 6 and not IPV6:
        pytest.skip("no IPv6 on this host (::1 cannot be bound)")
    result = run(how, "-ano", "-p", spelling)
    mine = [r for r in scene.rows() if (r.proto, r.family) == (proto, family)]
    assert mine
    text_check(result, mine, with_pid=True)
    for cells in parse_table(result.stdout):
        assert cells[0] == proto.upper()
        assert cells[1].startswith("[") == (family == 6), cells
    if family == 4:
        # IPv4 cells never outgrow the spec's widths, so the whole line is known.
        lines = set(result.stdout.splitlines())
        for r in mine:
            proto_, local, foreign, state, pid = expected_cells(r, True)
            line = f"  {proto_:<7}{local:<23}{foreign:<23}{state:<16}{pid}"
            assert line in lines


def test_each_state_has_its_name(run, scene):
    """Every state the scene holds still is printed by its spec name, for the right socket."""
    rows = parse_table(run("in-process", "-an").stdout)
    by_state = collections.defaultdict(list)
    for r in scene.rows():
        if r.proto == "tcp":
            by_state[SPEC_STATES[r.state]].append(cells_key(expected_cells(r, False)))
    assert set(by_state) == set(SPEC_STATES.values()) - {"CLOSED"}
    printed = {cells_key(c): c[3] for c in rows}
    for name, keys in by_state.items():
        for key in keys:
            assert printed.get(key) == name, key


def test_reuseport_listeners_are_three_rows(run, scene):
    mine = [r for r in scene.rows() if r.label.startswith("reuseport")]
    assert len(mine) == 3 and len({r.key for r in mine}) == 1
    rows = parse_table(run("in-process", "-an").stdout)
    assert rows.count(expected_cells(mine[0], False)) == 3
    recs = json_records(run("in-process", "-ano", "--json"), mine)
    assert sorted(rec["inode"] for rec in recs) == sorted(r.inode for r in mine)


@pytest.mark.parametrize("how", HOW)
def test_shared_socket_shows_lowest_pid_and_every_owner(run, scene, how):
    (shared,) = [r for r in scene.rows() if r.label == "shared listener"]
    child = scene.children[0].pid
    assert shared.pids == tuple(sorted((os.getpid(), child)))
    cells = expected_cells(shared, True)
    assert cells[4] == str(min(os.getpid(), child))  # one integer: jc and awk read a PID there
    assert cells in parse_table(run(how, "-ano").stdout)
    (rec,) = json_records(run(how, "-ano", "--json"), [shared])
    assert [o["pid"] for o in rec["owners"]] == sorted((os.getpid(), child))
    assert rec["pid"] == min(os.getpid(), child)


def test_b_lists_every_holder_of_a_shared_socket(run, scene):
    """The PID column has only the lowest PID; -b says who else holds the socket, on a line
    that is not a row (so nothing reads it as a PID)."""
    (shared,) = [r for r in scene.rows() if r.label == "shared listener"]
    child = scene.children[0].pid
    lines = run("in-process", "-anob").stdout.splitlines()
    (at,) = [i for i, line in enumerate(lines) if tuple(line.split()) == expected_cells(shared, True)]
    under = lines[at + 1:]
    under = under[:next(i for i, line in enumerate(under) if line.startswith("  TCP"))]
    assert f"  pnst-child ({child})" in under
    assert any(line.endswith(f" ({os.getpid()})") for line in under), under


def test_child_process_owns_its_listener(run, scene):
    (row,) = [r for r in scene.rows() if r.label == "child's listener"]
    child = scene.children[0].pid
    assert expected_cells(row, True)[4] == str(child)
    assert expected_cells(row, True) in parse_table(run("subprocess", "-ano").stdout)
    (rec,) = json_records(run("subprocess", "-ano", "--json"), [row])
    assert rec["owners"] == [{"pid": child, "name": "pnst-child"}]


@pytest.mark.skipif(not IPV6, reason="no IPv6 on this host (::1 cannot be bound)")
def test_ipv4_mapped_peers_are_marked(run, scene):
    mapped = [r for r in scene.rows() if MAPPED in (r.local[0], r.remote[0])]
    assert len(mapped) == 4  # the listener, the IPv6 client and both server ends
    recs = json_records(run("in-process", "-an", "--json"), scene.rows())
    flagged = {(rec["local_address"], rec["local_port"], rec["remote_port"])
               for rec in recs if rec["ipv4_mapped"]}
    assert flagged == {(r.local[0], r.local[1], r.remote[1]) for r in mapped}
    # The IPv4 client of the dual-stack listener is a plain IPv4 socket.
    (v4,) = [r for r in scene.rows() if r.label == "mapped v4 client"]
    assert (v4.family, v4.local[0]) == (4, V4)
    text = parse_table(run("in-process", "-an").stdout)
    assert ("TCP", f"[{MAPPED}]:{v4.remote[1]}", f"[{MAPPED}]:{v4.local[1]}", "ESTABLISHED") in text


def test_time_wait_has_no_owner(run, scene):
    (tw,) = [r for r in scene.rows() if r.state == TIME_WAIT]
    assert tw.inode == 0 and tw.pids == ()
    assert expected_cells(tw, True)[4] == "-"
    (rec,) = json_records(run("in-process", "-ano", "--json"), [tw])
    assert (rec["pid"], rec["owners"], rec["inode"]) == (None, [], 0)
