"""The bytecode compiler without a kernel: every program it makes passes the kernel's audit
rules, and running it by the kernel's rules keeps exactly what the test's plain predicate keeps
(random filters over random sockets). The rules are restated here from net/ipv4/inet_diag.c
(``inet_diag_bc_audit``, ``inet_diag_bc_run``); tests/test_filter_live.py checks the real kernel.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from filter_scene import as_options, conditions, holds
from helpers import examples
from pynetstat.linux.bytecode import TooLarge, build_filtered_request, compile_terms
from pynetstat.model.sockets import InetSocket
from pynetstat.select import parse_filter

OP = struct.Struct("=BBH")
HOSTCOND = struct.Struct("=BBxxi")
SIZES = {0: 4, 1: 4, 2: 8, 3: 8, 4: 8, 5: 8, 6: 4, 9: 8}  # ops of a fixed size
ADDR_LEN = {0: 0, 2: 4, 10: 16}


def op_size(program: bytes, at: int) -> int:
    code = program[at]
    if code in (7, 8):
        return 4 + HOSTCOND.size + ADDR_LEN[program[at + 4]]
    return SIZES[code]


def audit(program: bytes) -> None:
    """The kernel's checks: every op on the ``yes`` chain valid, ``yes``/``no`` multiples of 4,
    at least the op's size, at most 4 past the end, ``no`` landing on the ``yes`` chain."""
    starts, at = set(), 0
    while at < len(program):
        starts.add(at)
        code, yes, no = OP.unpack_from(program, at)
        size = op_size(program, at)
        assert at + size <= len(program)
        if code in (7, 8):
            assert program[at + 5] <= 8 * ADDR_LEN[program[at + 4]]
        left = len(program) - at
        assert yes == size and no % 4 == 0 and size <= no <= left + 4
        at += yes
    assert at == len(program)
    at = 0
    while at < len(program):
        _code, yes, no = OP.unpack_from(program, at)
        assert at + no >= len(program) or at + no in starts
        at += yes


def run(program: bytes, sock) -> bool:
    """``inet_diag_bc_run`` over one socket (an ``InetSocket``)."""
    family = 10 if sock.family == 6 else 2
    src = ipaddress.ip_address(sock.local_address).packed
    dst = ipaddress.ip_address(sock.remote_address).packed
    at, end = 0, len(program)
    while at < end:
        code, yes, no = OP.unpack_from(program, at)
        hit = True
        if code == 1:
            hit = False
        elif code in (2, 3, 4, 5):
            port = sock.local_port if code in (2, 3) else sock.remote_port
            bound = OP.unpack_from(program, at + 4)[2]
            hit = port >= bound if code in (2, 4) else port <= bound
        elif code in (7, 8):
            af, prefix, port = HOSTCOND.unpack_from(program, at + 4)
            addr = src if code == 7 else dst
            want = program[at + 12 : at + 12 + ADDR_LEN[af]]
            if port != -1 and port != (sock.local_port if code == 7 else sock.remote_port):
                hit = False
            elif af and af != family:
                hit = (family == 10 and af == 2 and addr[:12] == bytes(10) + b"\xff\xff"
                       and _prefix_equal(addr[12:], want, prefix))
            elif af:
                hit = _prefix_equal(addr, want, prefix)
        elif code == 9:
            hit = struct.unpack_from("=I", program, at + 4)[0] == sock.scope
        at += yes if hit else no
    return at == end


def _prefix_equal(a: bytes, b: bytes, bits: int) -> bool:
    width = 8 * len(b)
    return int.from_bytes(a, "big") >> (width - bits) == int.from_bytes(b, "big") >> (width - bits)


LINKS = {"lo": (1, ["127.0.0.1", "::1"]), "v0": (3, ["192.0.2.1", "fe80::1"]), "v1": (4, [])}
ADDRS4 = ["127.0.0.1", "127.0.0.2", "0.0.0.0", "192.0.2.1", "10.1.2.3"]
ADDRS6 = ["::1", "::", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "fe80::1", "2001:db8::5"]
PORTS = [0, 22, 80, 443, 8080, 8081, 40001, 65535]


@st.composite
def sockets(draw):
    family = draw(st.sampled_from([4, 6]))
    addrs = ADDRS4 if family == 4 else ADDRS6
    local, remote = draw(st.sampled_from(addrs)), draw(st.sampled_from(addrs))
    # a socket on a link-local address is bound to its interface (v0 here), as in Linux
    scope = 3 if "fe80::1" in (local, remote) else draw(st.sampled_from([0, 1, 3]))
    return InetSocket(proto="tcp", family=family, state=draw(st.sampled_from([1, 6, 7, 10])),
                      local_address=local, local_port=draw(st.sampled_from(PORTS)),
                      remote_address=remote, remote_port=draw(st.sampled_from(PORTS)),
                      scope=scope, inode=1, uid=0, cookie=1, recv_q=0, send_q=0)


PORT_ITEMS = ["0", "80", "443", "https", "8080-8081", "1-1023", "0-65535", "40000-65535"]
NET_ITEMS = ["127.0.0.1", "127.0.0.0/8", "0.0.0.0/0", "::/0", "::1", "::ffff:127.0.0.1",
             "::ffff:10.0.0.0/104", "fe80::/64%v0", "fe80::1%lo", "10.0.0.0/8", "::", "0.0.0.0"]
@settings(max_examples=examples(150), deadline=None)
@given(conditions(PORT_ITEMS, NET_ITEMS), st.lists(sockets(), min_size=1, max_size=8))
@example([("port", "local", ["1-1023"], False)],  # the range's lower bound, at port 0
         [InetSocket(proto="tcp", family=4, state=10, local_address="0.0.0.0", local_port=0,
                     remote_address="0.0.0.0", remote_port=0, scope=0, inode=1, uid=0, cookie=1,
                     recv_q=0, send_q=0)])
def test_programs_pass_the_audit_and_keep_what_the_plain_predicate_keeps(found, socks):
    selection = parse_filter(as_options(found)).bind(LINKS)
    for family in (4, 6):
        program = compile_terms(selection.kernel_terms, family)
        if program is not None:
            audit(program)
        for sock in (s for s in socks if s.family == family):
            expected = all(holds(sock, c, LINKS) for c in found)
            assert (program is None or run(program, sock)) == expected, (found, sock)


def test_no_program_when_everything_is_kept_and_a_rejecting_one_when_nothing_is():
    assert compile_terms(parse_filter([("port", "0-65535")]).bind().kernel_terms, 4) is None
    assert compile_terms((), 4) is None
    assert compile_terms(parse_filter([("port", "!0-65535")]).bind().kernel_terms, 4) == (
        OP.pack(1, 4, 8))
    # an IPv6 net never matches an IPv4 socket, and the compiler knows it
    assert compile_terms(parse_filter([("addr", "::/0")]).bind().kernel_terms, 4) == (
        OP.pack(1, 4, 8))


def test_a_program_too_large_for_an_attribute_is_refused():
    many = ",".join(str(p) for p in range(1, 20000, 2))
    with pytest.raises(TooLarge):
        compile_terms(parse_filter([("port", many)]).bind().kernel_terms, 4)


def test_the_request_carries_the_program_as_an_attribute():
    program = OP.pack(1, 4, 8)
    request = build_filtered_request(6, "udp", 0x2, program)
    assert request.payload[:2] == bytes([10, 17]) and len(request.payload) == 56 + 4 + 4
    assert struct.unpack_from("=HH", request.payload, 56) == (8, 1)  # len, INET_DIAG_REQ_BYTECODE
    assert request.payload[60:] == program
    assert build_filtered_request(6, "udp", 0x2, None).payload == request.payload[:56]
