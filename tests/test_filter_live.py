"""Filters against the real kernel (issue 14), in a network namespace the test makes.

For many filters, negations and combinations, over a scene of listeners, connections and UDP
sockets on chosen addresses, ports, states, devices and uids (tests/filter_scene.py):

* the sockets the kernel returns for our bytecode and state mask equal the unfiltered dump
  filtered by the test's own plain predicate;
* ``Selection.select`` over the unfiltered dump's batches equals the same;
* hypothesis: for random filters, kernel == select.py == plain predicate;
* ss's own filter expressions agree where ss has one;
* the kernel checks programs (a broken one is refused with EINVAL), and its jump rules are the
  ones the compiler assumes (``no`` = length + 4 rejects).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings

from filter_scene import OTHER_UID, Netns, Scene, as_options, conditions, holds
from helpers import examples
from pynetstat.errors import NetlinkError
from pynetstat.linux.bytecode import BC_JMP, BC_NOP, build_filtered_request, compile_terms
from pynetstat.linux.netlink import DumpStats, LiveNetlink
from pynetstat.linux.sockdiag import decode_batches
from pynetstat.select import parse_filter

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]

KINDS = [("tcp", 4), ("tcp", 6), ("udp", 4), ("udp", 6)]
ALL_STATES = 0xFFFFFFFF & ~(1 << 13)


class Live:
    def __init__(self, netns: Netns, scene: Scene):
        self.netns = netns
        self.scene = scene
        with netns.inside():
            self.netlink = LiveNetlink()
            self.dump("tcp", 4)  # opens the netlink socket, in the namespace for good

    def dump(self, proto: str, family: int, states: int = ALL_STATES,
             bytecode: bytes | None = None) -> list:
        reply = self.netlink.dump(build_filtered_request(family, proto, states, bytecode))
        return list(decode_batches(reply, proto, family, DumpStats()))


@pytest.fixture(scope="module")
def live():
    netns = Netns()
    with netns.inside():
        scene = Scene()
    live = Live(netns, scene)
    # The closed connections settle once their FINs are acknowledged (a delayed ACK can hold
    # one in FIN_WAIT1 or LAST_ACK for a while).
    deadline = time.monotonic() + 5
    while {4, 9} & {r[2] for r in rows(live.dump("tcp", 4))} and time.monotonic() < deadline:
        time.sleep(0.02)
    yield live
    live.netlink.close()
    scene.close()
    netns.close()


def row(proto: str, s) -> tuple:
    return (proto, s.family, s.state, s.local_address, s.local_port, s.remote_address,
            s.remote_port, s.scope, s.uid)


def rows(batches) -> list[tuple]:
    return sorted(row(b.proto, s) for b in batches for s in b.sockets())


def plain(batches, conditions, links) -> list[tuple]:
    """The rows of ``batches`` that the test's own predicate keeps."""
    return sorted(row(b.proto, s) for b in batches for s in b.sockets()
                  if all(holds(s, c, links) for c in conditions))


def check(live: Live, conditions) -> list[tuple]:
    """For every kind, against the plain predicate: the kernel's filtering (the conditions it can
    check: all but --user), select.py's after the kernel (what a collector does), and
    select.py's alone over the unfiltered dump (a /proc or recorded source). The kept rows."""
    selection = parse_filter(as_options(conditions)).bind(live.scene.links)
    in_kernel = [c for c in conditions if c[0] != "user"]
    kept = []
    for proto, family in KINDS:
        states = selection.request_states(ALL_STATES)
        bytecode = compile_terms(selection.kernel_terms, family)
        for _attempt in range(3):  # TIME_WAIT and FIN_WAIT2 sockets expire: a stable snapshot
            before = live.dump(proto, family)
            kernel = live.dump(proto, family, states, bytecode)
            if rows(live.dump(proto, family)) == rows(before):
                break
        links = live.scene.links
        assert rows(kernel) == plain(before, in_kernel, links), (conditions, proto, family)
        want = plain(before, conditions, links)
        for source in (kernel, before):
            selected = [selection.select(b) for b in source]
            assert rows([b for b in selected if b is not None]) == want, (conditions, proto)
        kept.extend(want)
    return kept


def test_the_scene_is_what_the_tests_assume(live):
    everything = check(live, [])
    states = {(r[0], r[2]) for r in everything}
    assert {("tcp", 10), ("tcp", 1), ("tcp", 2), ("tcp", 5), ("tcp", 8), ("tcp", 6),
            ("udp", 7), ("udp", 1)} <= states
    assert any(r[3] == "::ffff:127.0.0.8" for r in everything)
    assert any(r[3] == "fe80::1" and r[7] == live.scene.links["v0"][0] for r in everything)
    assert any(r[3] == "127.0.0.3" and r[7] == 1 for r in everything)
    # TIME_WAIT sockets have no owner: uid None (issue 21 item 5)
    assert {r[8] for r in everything} == {0, OTHER_UID, None}


CASES = [
    [("port", "either", ["8080"], False)],
    [("port", "either", ["8080"], True)],
    [("port", "local", ["8000-8099"], False)],
    [("port", "remote", ["40000-40010", "443"], False)],
    [("port", "either", ["https"], False)],
    [("port", "either", ["0-65535"], False)],
    [("port", "either", ["0-65535"], True)],
    [("port", "local", ["1-1023"], True), ("state", None, ["listening"], False)],
    [("addr", "either", ["127.0.0.1"], False)],
    [("addr", "local", ["127.0.0.0/8"], True)],
    [("addr", "remote", ["::ffff:127.0.0.1"], False)],
    [("addr", "either", ["::ffff:127.0.0.0/104"], False)],
    [("addr", "local", ["0.0.0.0/0"], False)],
    [("addr", "local", ["::/0"], False)],
    [("addr", "local", ["::"], False)],
    [("addr", "local", ["::1", "127.0.0.2/31"], False)],
    [("addr", "either", ["fe80::/64%v0"], False)],
    [("addr", "either", ["fe80::/64%v1"], False)],
    [("addr", "local", ["fe80::1%v0/128", "192.0.2.0/24"], True)],
    [("interface", None, ["v0"], False)],
    [("interface", None, ["lo"], False)],
    [("interface", None, ["v1", "lo"], True)],
    [("state", None, ["connected"], False), ("port", "either", ["8080", "8081"], False)],
    [("state", None, ["time-wait", "fin-wait-2", "close-wait"], False)],
    [("state", None, ["listening"], True), ("addr", "remote", ["127.0.0.0/8"], False)],
    [("user", None, [str(OTHER_UID)], False)],
    [("user", None, ["root"], True), ("port", "local", ["7001", "5357"], False)],
    [("port", "local", ["8080"], False), ("port", "remote", ["40001"], False)],
    [("port", "either", ["9000"], False), ("addr", "either", ["127.0.0.1"], True)],
]


@pytest.mark.parametrize("conditions", CASES, ids=lambda c: " ".join(
    f"--{o}={v}" for o, v in as_options(c)))
def test_kernel_and_select_equal_the_plain_predicate(live, conditions):
    check(live, conditions)


def test_a_program_near_the_attribute_limit_is_accepted_and_right(live):
    ports = [str(p) for p in range(2, 3800, 2)] + ["8080"]  # 1900 ports, 60,796 bytes
    assert len(compile_terms(parse_filter([("port", ",".join(ports))]).bind().kernel_terms,
                             4)) > 60000
    assert len(check(live, [("port", "either", ports, False)])) == 4  # 8080 three times, 80


def test_filters_really_narrow(live):
    """Not vacuous: the cases keep some sockets and drop others."""
    total = len(check(live, []))
    assert [len(check(live, [("port", "either", ["8080"], False)]))] == [3]
    assert 0 < len(check(live, [("addr", "either", ["fe80::/64%v0"], False)])) < total
    assert check(live, [("port", "either", ["0-65535"], True)]) == []


PORTS = ["0", "22", "443", "https", "5353", "5356-5357", "7000", "7001", "8080", "8081",
         "8000-8099", "8443", "9000", "9001", "40001", "40000-40010", "1-1023", "0-65535", "80"]
NETS = ["127.0.0.1", "127.0.0.0/8", "127.0.0.2/31", "127.0.0.5", "0.0.0.0", "0.0.0.0/0", "::",
        "::/0", "::1", "::ffff:127.0.0.1", "::ffff:127.0.0.0/104", "::ffff:0:0/96", "fe80::/64",
        "fe80::1%v0", "fe80::/10%v0", "fe80::/64%v1", "192.0.2.0/24", "192.0.2.1%v0",
        "10.0.0.0/8", "2001:db8::/32", "127.0.0.3%lo"]
STATES = ["established", "syn-sent", "syn-recv", "fin-wait-2", "time-wait", "closed",
          "close-wait", "listening", "connected", "synchronized"]
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conditions(PORTS, NETS, STATES, ["root", str(OTHER_UID)]))
def test_random_filters_kernel_equals_python(live, found):
    check(live, found)


# --- ss -------------------------------------------------------------------------------------------
SS_STATES = {"ESTAB": 1, "SYN-SENT": 2, "SYN-RECV": 3, "FIN-WAIT-1": 4, "FIN-WAIT-2": 5,
             "TIME-WAIT": 6, "UNCONN": 7, "CLOSE-WAIT": 8, "LAST-ACK": 9, "LISTEN": 10,
             "CLOSING": 11}


def _port(endpoint: str) -> int:
    port = endpoint.rpartition(":")[2]
    return 0 if port == "*" else int(port)


@pytest.mark.skipif(shutil.which("ss") is None, reason="iproute2's ss is not installed")
@pytest.mark.parametrize(("options", "expression"), [
    ([("port", "8080")], "( sport = :8080 or dport = :8080 )"),
    ([("port", "!8080")], "not ( sport = :8080 or dport = :8080 )"),
    ([("lport", "8000-8099")], "( sport >= :8000 and sport <= :8099 )"),
    ([("remote", "127.0.0.0/8")], "dst 127.0.0.0/8"),
    ([("local", "::1")], "src [::1]"),
    ([("state", "time-wait,fin-wait-2")], "state time-wait state fin-wait-2"),
    ([("state", "connected"), ("rport", "443")], "state connected dport = :443"),
    ([("state", "synchronized")], "state synchronized"),
    ([("state", "bucket")], "state bucket"),
    ([("state", "big")], "state big"),
    ([("state", "!listening")], "exclude listening"),
    ([("addr", "::ffff:127.0.0.1")], "( src 127.0.0.1 or dst 127.0.0.1 )"),
])
def test_tcp_rows_equal_ss(live, options, expression):
    selection = parse_filter(options).bind(live.scene.links)
    ours = []
    for family in (4, 6):
        bytecode = compile_terms(selection.kernel_terms, family)
        for s in (s for b in live.dump("tcp", family, selection.request_states(ALL_STATES),
                                       bytecode) for s in b.sockets()):
            ours.append((s.state, s.local_port, s.remote_port))
    with live.netns.inside():
        out = subprocess.run(["ss", "-tanH", *expression.split()], capture_output=True,
                             text=True, check=True).stdout
    theirs = [(SS_STATES[f[0]], _port(f[3]), _port(f[4]))
              for f in (line.split() for line in out.splitlines())]
    assert sorted(ours) == sorted(theirs)
    assert ours or expression.startswith("state time")


# --- the kernel's rules ---------------------------------------------------------------------------
def _op(code: int, yes: int, no: int) -> bytes:
    return bytes([code, yes]) + no.to_bytes(2, "little" if sys.byteorder == "little" else "big")


def test_jump_to_length_plus_4_rejects_and_to_the_end_accepts(live):
    everything = rows(live.dump("tcp", 4))
    assert rows(live.dump("tcp", 4, bytecode=_op(BC_JMP, 4, 8))) == []
    assert rows(live.dump("tcp", 4, bytecode=_op(BC_JMP, 4, 4))) == everything
    assert rows(live.dump("tcp", 4, bytecode=_op(BC_NOP, 4, 0))) == everything


@pytest.mark.parametrize("program", [
    _op(BC_JMP, 4, 6),  # `no` not a multiple of 4
    _op(BC_JMP, 4, 12),  # `no` past length + 4
    _op(BC_JMP, 8, 8),  # `yes` past the end: the program does not end at its length
    _op(99, 4, 8),  # no such op
    bytes(_op(7, 12, 16))[:4] + b"\x02\x20\x00\x00",  # S_COND cut short of its host condition
    _op(BC_JMP, 4, 8)[:3],  # shorter than one op
], ids=["no-unaligned", "no-too-far", "yes-past-end", "bad-code", "short-hostcond", "short"])
def test_a_broken_program_is_refused(live, program):
    with pytest.raises(NetlinkError) as error:
        live.dump("tcp", 4, bytecode=program)
    assert error.value.errno == 22  # EINVAL, from inet_diag_bc_audit
