"""The connection table replayed from recorded kernel bytes (tests/fixtures/linux/conn-*, made by
tests/fixtures/record.py): sock_diag dumps and /proc/net files of one moment, the /proc fallback,
a missing diag module, repeated and truncated dumps. Expected outputs are checked here against
the recorded /proc files, read by a parser written for this test, and against the recorder's own
account of its sockets (meta.json)."""

from __future__ import annotations

import collections
import json
import os
import socket
import struct
import sys

import pytest
from record import SCENARIOS, message_offsets, read_nl

from conftest import (
    FIXTURES,
    KERNEL_STATES,
    parse_table,
    record_key,
    run_inprocess,
    run_subprocess,
)
from pynetstat.linux.netlink import DumpStats, ReplayNetlink
from pynetstat.linux.procfs import parse_inet_file
from pynetstat.linux.sockdiag import build_request, decode_dump

LINUX = os.path.join(FIXTURES, "linux")
FILES = (("tcp", 4, "tcp"), ("tcp", 6, "tcp6"), ("udp", 4, "udp"), ("udp", 6, "udp6"))


def path(scenario: str, *parts: str) -> str:
    return os.path.join(LINUX, scenario, *parts)


def meta(scenario: str) -> dict:
    with open(path(scenario, "meta.json")) as f:
        return json.load(f)


pytestmark = pytest.mark.skipif(meta("conn-normal")["byteorder"] != sys.byteorder,
                                reason="the recordings are in the recording host's byte order")


def replay(scenario: str, *argv: str):
    netlink = path(scenario, "netlink")
    return run_inprocess(list(argv), environ={}, proc_root=path(scenario, "proc"),
                         netlink_factory=lambda: ReplayNetlink(netlink))


def expected(scenario: str, name: str) -> str:
    try:
        with open(path(scenario, name)) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def proc_oracle(scenario: str) -> list[tuple]:
    """The recorded /proc/net files, read here without pynetstat: each address is the kernel's
    ``%08X`` of 32-bit words as they lie in memory, so the words are packed back in the
    recording host's byte order. Rows: ``(proto, family, local, remote, state, inode)``."""
    order = "<" if meta(scenario)["byteorder"] == "little" else ">"

    def endpoint(field: str) -> tuple[str, int]:
        hexaddr, port = field.split(":")
        words = [int(hexaddr[i : i + 8], 16) for i in range(0, len(hexaddr), 8)]
        raw = struct.pack(f"{order}{len(words)}I", *words)
        return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw), int(port, 16)

    rows = []
    for proto, family, name in FILES:
        with open(path(scenario, "proc", "net", name)) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                rows.append((proto, family, endpoint(fields[1]), endpoint(fields[2]),
                             int(fields[3], 16), int(fields[9])))
    return rows


def json_rows(doc: dict) -> list[tuple]:
    """JSON records in the oracle's shape."""
    number = {name: n for n, name in KERNEL_STATES.items()}
    return [(*record_key(rec), number[rec["kernel_state"]], rec["inode"]) for rec in doc["connections"]]


def text_rows(doc: dict) -> list[tuple]:
    """The table rows the JSON records should have printed as."""
    out = []
    for rec in doc["connections"]:
        fmt = "{}:{}" if rec["family"] == "ipv4" else "[{}]:{}"
        local = fmt.format(rec["local_address"], rec["local_port"])
        remote = fmt.format(rec["remote_address"], rec["remote_port"])
        if rec["proto"].startswith("udp"):
            out.append(("UDP", local, "*:*" if rec["remote_port"] == 0 else remote, ""))
        else:
            out.append(("TCP", local, remote, rec["state"]))
    return out


def test_recording_holds_the_recorders_sockets():
    """In its private namespace the recorder's sockets are all there is: /proc agrees."""
    mine = collections.Counter((s["proto"], s["family"], tuple(s["local"]), tuple(s["remote"]),
                                s["state"], s["inode"]) for s in meta("conn-normal")["sockets"])
    assert collections.Counter(proc_oracle("conn-normal")) == mine
    assert {s["state"] for s in meta("conn-normal")["sockets"] if s["proto"] == "tcp"} == set(range(1, 12)) - {7}


@pytest.mark.parametrize(("proto", "family", "name"), FILES)
def test_netlink_dump_and_proc_file_agree(proto, family, name):
    """The recorded sock_diag dump, decoded, and the /proc file of the same moment, parsed by
    pynetstat and by the oracle, hold the same sockets."""
    reply = ReplayNetlink(path("conn-normal", "netlink")).dump(build_request(family, proto))
    stats = DumpStats()
    from_netlink = list(decode_dump(reply, proto, family, stats))
    assert (stats.malformed, stats.foreign) == (0, 0)
    errors: list = []
    with open(path("conn-normal", "proc", "net", name)) as f:
        from_proc = list(parse_inet_file(f.read(), name, proto, family, errors))
    assert errors == []

    def shape(s):
        return (s.proto, s.family, (s.local_address, s.local_port), (s.remote_address, s.remote_port),
                s.state, s.inode)
    oracle = collections.Counter(r for r in proc_oracle("conn-normal") if r[:2] == (proto, family))
    assert collections.Counter(map(shape, from_netlink)) == oracle
    assert collections.Counter(map(shape, from_proc)) == oracle
    assert all(s.cookie for s in from_netlink) and all(s.cookie is None for s in from_proc)
    assert collections.Counter(s.uid for s in from_netlink) == collections.Counter(s.uid for s in from_proc)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_replay_prints_the_expected_output(scenario):
    text = replay(scenario, "-an")
    assert (text.status, text.stdout, text.stderr) == (0, expected(scenario, "expected-an.txt"),
                                                        expected(scenario, "stderr-an.txt"))
    doc = replay(scenario, "-an", "--json")
    assert doc.status == 0
    assert doc.json() == json.loads(expected(scenario, "expected-an.json"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_expected_output_is_what_the_kernel_recorded(scenario):
    """expected-an.json holds exactly the sockets of the recorded /proc files (the truncated
    dump: the whole messages before the cut and nothing else), and expected-an.txt prints them."""
    with open(path(scenario, "expected-an.json")) as f:
        doc = json.load(f)
    got = collections.Counter(json_rows(doc))
    oracle = collections.Counter(proc_oracle(scenario))
    if scenario == "conn-truncated":
        tcp4 = collections.Counter({r: n for r, n in got.items() if r[:2] == ("tcp", 4)})
        assert sum(tcp4.values()) == meta(scenario)["complete_messages"]
        assert not tcp4 - oracle
        oracle = collections.Counter({r: n for r, n in oracle.items() if r[:2] != ("tcp", 4)}) + tcp4
    assert got == oracle
    with open(path(scenario, "expected-an.txt")) as f:
        assert parse_table(f.read()) == text_rows(doc)


def records_without(doc: dict, *fields: str) -> list[dict]:
    return [{k: v for k, v in rec.items() if k not in fields} for rec in doc["connections"]]


def listener_queues_from_proc(records: list[dict]) -> list[dict]:
    """/proc has no backlog for a listener (its tx_queue is 0): the one field sock_diag and /proc
    report differently, besides the cookie that /proc does not have."""
    return [{**rec, "send_q": None} if rec["kernel_state"] == "LISTEN" else rec for rec in records]


@pytest.mark.parametrize(("scenario", "fallen"), [("conn-proc-fallback", {"tcp"}),
                                                  ("conn-missing-diag", {"tcp6", "udp6"})])
def test_fallback_to_proc_gives_the_same_rows(scenario, fallen):
    doc = replay(scenario, "-an", "--json").json()
    normal = json.loads(expected("conn-normal", "expected-an.json"))
    assert doc["sources"] == {name: "proc" if name in fallen else "netlink"
                              for name in ("tcp", "tcp6", "udp", "udp6")}
    assert set(doc["fallback_reasons"]) == fallen
    for rec in doc["connections"]:
        assert (rec["cookie"] is None) == (rec["proto"] in fallen)
    assert listener_queues_from_proc(records_without(doc, "cookie")) == \
        listener_queues_from_proc(records_without(normal, "cookie"))
    assert replay(scenario, "-an").stdout == expected("conn-normal", "expected-an.txt")


def test_missing_diag_replies_are_real_errors():
    """The stand-in replies are what the kernel answers for a protocol without a diag module:
    NLMSG_DONE carrying -ENOENT (raw), and NLMSG_ERROR -ENOENT (vsock)."""
    for name, msg_type in (("sock_diag-udp6.nl", 3), ("sock_diag-tcp6.nl", 2)):
        seq, chunks = read_nl(path("conn-missing-diag", "netlink", name))
        (chunk,) = chunks
        length, mtype, _flags, mseq, _pid, err = struct.unpack_from("=IHHIIi", chunk)
        assert (mtype, mseq, err, length) == (msg_type, seq, -2, len(chunk))
    doc = replay("conn-missing-diag", "-an", "--json").json()
    assert doc["fallback_reasons"] == {"tcp6": "sock_diag tcp6: No such file or directory (errno 2)",
                                       "udp6": "sock_diag udp6: No such file or directory (errno 2)"}


def test_repeated_data_gives_no_duplicate_rows():
    counts = {}
    for scenario in ("conn-normal", "conn-duplicated"):
        counts[scenario] = [sum(len(message_offsets(c)) for c in read_nl(path(scenario, "netlink", name))[1])
                            for name in ("sock_diag-tcp.nl", "sock_diag-tcp6.nl")]
    tcp_first = len(message_offsets(read_nl(path("conn-normal", "netlink", "sock_diag-tcp.nl"))[1][0]))
    assert counts["conn-duplicated"] == [counts["conn-normal"][0] + tcp_first, counts["conn-normal"][1] + 1]
    doc = replay("conn-duplicated", "-an", "--json").json()
    assert doc == json.loads(expected("conn-normal", "expected-an.json"))
    keys = [(rec["proto"], rec["cookie"]) for rec in doc["connections"]]
    assert len(keys) == len(set(keys))


def test_truncated_dump_is_counted_and_said_once():
    directory = path("conn-truncated")
    result = run_subprocess(["-an", "--json"], env={**os.environ,
                                                    "PYNETSTAT_PROC_ROOT": os.path.join(directory, "proc"),
                                                    "PYNETSTAT_NETLINK_REPLAY": os.path.join(directory, "netlink")},
                            timeout=20)
    assert result.status == 0
    assert result.json()["netlink"]["malformed"] == 1
    assert result.stderr == "pynetstat: dropped 1 malformed netlink message(s)\n"
    assert "Traceback" not in result.stderr


def test_replay_through_the_environment_variables():
    directory = path("conn-missing-diag")
    env = {**os.environ, "PYNETSTAT_PROC_ROOT": os.path.join(directory, "proc"),
           "PYNETSTAT_NETLINK_REPLAY": os.path.join(directory, "netlink")}
    result = run_subprocess(["-an"], env=env)
    assert (result.status, result.stdout, result.stderr) == (0, expected("conn-missing-diag", "expected-an.txt"), "")


@pytest.mark.parametrize("scenario", ["conn-normal", "conn-proc-fallback"])
def test_default_view_from_a_recording(scenario):
    """Without -a: no listener, no UDP, whichever source served the rows; a recorded dump holds
    every state, so the selection cannot be left to the kernel."""
    every = parse_table(expected("conn-normal", "expected-an.txt"))
    want = [r for r in every if r[0] == "TCP" and r[3] != "LISTENING"]
    assert len(want) >= 15
    assert parse_table(replay(scenario, "-n").stdout) == want


@pytest.mark.parametrize(("spelling", "label", "v6"), [("tcp", "TCP", False), ("TCPV6", "TCP", True),
                                                       ("Udp", "UDP", False), ("udpv6", "UDP", True)])
def test_protocol_filter_from_a_recording(spelling, label, v6):
    every = parse_table(expected("conn-normal", "expected-an.txt"))
    want = [r for r in every if r[0] == label and r[1].startswith("[") == v6]
    assert want
    assert parse_table(replay("conn-normal", "-an", "-p", spelling).stdout) == want


@pytest.mark.parametrize("scenario", ["conn-normal", "conn-proc-fallback"])
def test_sockets_without_an_owner_have_no_uid(scenario):
    """TIME_WAIT and request sockets (inode 0) keep no uid: the kernel says 0 for them, which
    would read as root. Null in JSON, from sock_diag and from /proc alike; every other socket
    keeps its uid."""
    doc = replay(scenario, "-an", "--json").json()
    ownerless = [r for r in doc["connections"]
                 if r["inode"] == 0 and r["kernel_state"] in ("TIME_WAIT", "SYN_RECV")]
    assert {r["kernel_state"] for r in ownerless} == {"TIME_WAIT", "SYN_RECV"}
    assert all(r["uid"] is None for r in ownerless)
    assert all(type(r["uid"]) is int for r in doc["connections"] if r not in ownerless)


def test_unseen_drops_keys_seen_before_or_twice_in_a_batch():
    """``_unseen`` adds a batch's keys before checking them: after a repeat (within the batch or
    from an earlier one) the set is as it was before the batch, and later batches are checked."""
    from pynetstat.linux.sockets import _Seen, _unseen

    class Rows(list):  # a batch: its rows are its keys
        def take(self, keep):
            return Rows(self[i] for i in keep)

    seen = _Seen()
    kept = [_unseen(Rows(keys), keys, seen) for keys in
            ([1, 2], [3], [4, 2, 5], [6, 6, 7], [8], [1, 8], [9, 9])]
    assert kept == [[1, 2], [3], [4, 5], [6, 7], [8], None, [9]]
    assert seen.keys == set(range(1, 10))
