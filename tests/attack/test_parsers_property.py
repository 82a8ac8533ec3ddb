"""Malformed input: property tests (hypothesis) on every parser of /proc text and netlink bytes.

For any input, a parser returns records (and, where it has a place for them, counted errors)
and raises nothing but ``PynetstatError`` subclasses; every record it returns is well formed
(a port is 0-65535, a state a byte, an inode not negative...). Records survive a round trip
through the kernel's own formats (kernel.py writes them from the kernel's printf formats and
struct layouts, on both byte orders for the text). No netlink length field can make a decoder
loop or read past its buffer: the decoders are fed adversarial length fields and timed.

``decode_address`` and ``parse_inet_line`` are the two documented exceptions: pure helpers of
``parse_inet_file`` that signal a bad field with ``ValueError`` (which the file parser turns
into a counted ``ParseError``), so for them ValueError is the contract.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
import time
from contextlib import suppress
from ipaddress import ip_address
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import examples
from pynetstat.errors import PynetstatError
from pynetstat.linux import netlink, process, procfs, rtnetlink, snmp, sockdiag
from pynetstat.linux.netlink import DumpStats, Reply
from pynetstat.model.stats import monotonic_counters
from pynetstat.resolve import parse_services

from .kernel import FIXTURES, Sock, diag_message, done_message, nlmsg, proc_net_line

PROPERTY = settings(max_examples=examples(150), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SEQ = 4242

# Tokens that look like numbers to one reader and not to another.
TRICKY = ["-1", "+1", "1_0", "0x10", "²", "٣", "1e3", "", " ", "\t", "ffffffff", "FFFFFFFFFFFFFFFFFF",
          "-0000001", "0000000-", "00000000:0000", ":", "::", "(", ")", "\0", "\x1b", "\xff", "9" * 40,
          "00000000000000000000000000000000", "zz", "0100007F:0016", "0A", "-01", "1.5", "nan"]


def tricky_line(valid: str):
    """A valid line with some fields replaced by tricky tokens, or cut."""
    fields = valid.split(" ")

    @st.composite
    def build(draw):
        f = list(fields)
        for _ in range(draw(st.integers(0, 4))):
            i = draw(st.integers(0, len(f) - 1))
            f[i] = draw(st.sampled_from(TRICKY) | st.text(max_size=12))
        line = " ".join(f)
        if draw(st.booleans()):
            line = line[: draw(st.integers(0, len(line)))]
        return line
    return build()


def only_our_errors(fn, *args, **kw):
    """Call ``fn``; any exception but PynetstatError fails the test (with the input shown)."""
    try:
        return fn(*args, **kw)
    except PynetstatError:
        return None


def check_socket_record(s) -> None:
    assert s.proto in ("tcp", "udp") and s.family in (4, 6)
    assert 0 <= s.local_port <= 0xFFFF and 0 <= s.remote_port <= 0xFFFF, s
    assert 0 <= s.state <= 0xFF, s
    assert s.inode >= 0 and s.recv_q >= 0 and s.send_q >= 0, s
    # no uid only for a socket without an inode: TIME_WAIT and request sockets
    assert (s.uid >= 0) if s.uid is not None else (s.inode == 0 and s.state in (3, 6, 12)), s
    assert isinstance(s.local_address, str) and isinstance(s.remote_address, str)


# --- /proc/net/{tcp,udp}[6] ----------------------------------------------------------------

V4_LINE = proc_net_line(0, Sock("tcp", 4, 1, "127.0.0.1", 22, "10.0.0.5", 5555, inode=1065, uid=1000))
V6_LINE = proc_net_line(0, Sock("udp", 6, 7, "fe80::1", 5353, "::", 0, inode=77))


@PROPERTY
@given(st.lists(st.one_of(st.text(), tricky_line(V4_LINE), tricky_line(V6_LINE)), max_size=6),
       st.sampled_from([("tcp", 4), ("tcp", 6), ("udp", 4), ("udp", 6)]),
       st.sampled_from(["little", "big"]))
@example(["header", V4_LINE.replace(" 01 ", " -1 ", 1)], ("tcp", 4), "little")
@example(["header", V4_LINE.replace(":0016", ":-001", 1)], ("tcp", 4), "little")
@example(["header", V4_LINE.replace(" 1065 ", " -5 ", 1)], ("tcp", 4), "little")
def test_parse_inet_file_any_text(lines, kind, byteorder):
    errors: list = []
    text = "\n".join(lines)
    records = list(only_our_errors(lambda: list(procfs.parse_inet_file(
        text, "/proc/net/x", kind[0], kind[1], errors, byteorder))) or [])
    for s in records:
        check_socket_record(s)
    assert all(isinstance(e, PynetstatError) for e in errors)
    assert len(records) + len(errors) <= max(0, len([x for x in text.splitlines()[1:] if x.strip()]))


@PROPERTY
@given(st.one_of(st.text(max_size=60), st.sampled_from(TRICKY),
                 st.builds(lambda a, p: f"{a}:{p}", st.text("0123456789abcdefABCDEF-+_x ", max_size=34),
                           st.text("0123456789abcdefABCDEF-+_x ", max_size=5))),
       st.sampled_from(["little", "big"]))
@example("0100007F:-001", "little")
@example("0100007F:+016", "little")
@example("0100007F:1_00", "little")
def test_decode_address_any_field(field, byteorder):
    try:
        address, port = procfs.decode_address(field, byteorder)
    except ValueError:
        return
    assert 0 <= port <= 0xFFFF, (field, port)
    assert address


addresses4 = st.ip_addresses(v=4).map(str)
addresses6 = st.ip_addresses(v=6).map(str)


@st.composite
def socks(draw, proto=None, family=None):
    proto = proto or draw(st.sampled_from(["tcp", "udp"]))
    family = family or draw(st.sampled_from([4, 6]))
    addr = addresses4 if family == 4 else addresses6
    return Sock(proto, family, draw(st.integers(0, 0xFF)), draw(addr), draw(st.integers(0, 0xFFFF)),
                draw(addr), draw(st.integers(0, 0xFFFF)), inode=draw(st.integers(0, 2**32 - 1)),  # idiag_inode: u32
                uid=draw(st.integers(0, 2**32 - 1)), cookie=draw(st.integers(1, 2**64 - 1)),
                recv_q=draw(st.integers(0, 2**32 - 1)), send_q=draw(st.integers(0, 2**32 - 1)),
                ifindex=draw(st.integers(0, 2**31 - 1)))


def same_socket(s: Sock, r, *, netlink: bool) -> None:
    assert (r.proto, r.family, r.state) == (s.proto, s.family, s.state)
    # inet_ntop and ipaddress spell IPv4-mapped addresses differently: compare the addresses.
    assert (ip_address(r.local_address), r.local_port) == (ip_address(s.local), s.lport)
    assert (ip_address(r.remote_address), r.remote_port) == (ip_address(s.remote), s.rport)
    # TIME_WAIT and request sockets (inode 0) keep no uid, whatever number the kernel printed
    uid = None if s.inode == 0 and s.state in (3, 6, 12) else s.uid
    assert (r.inode, r.uid, r.recv_q, r.send_q) == (s.inode, uid, s.recv_q, s.send_q)
    if netlink:
        assert (r.cookie, r.scope) == (s.cookie, s.ifindex)


@PROPERTY
@given(st.lists(socks(), min_size=1, max_size=8), st.sampled_from(["little", "big"]))
def test_proc_net_round_trip(sockets, byteorder):
    """A socket printed in the kernel's format, on a machine of either byte order, parses back."""
    for s in sockets:
        lines = [f"header {s.name}", proc_net_line(0, s, byteorder), proc_net_line(1, s, byteorder)]
        errors: list = []
        got = list(procfs.parse_inet_file("\n".join(lines), "/proc/net/x", s.proto, s.family,
                                          errors, byteorder))
        assert errors == [] and len(got) == 2
        for r in got:
            same_socket(s, r, netlink=False)


# --- netlink framing and sock_diag ---------------------------------------------------------

def adversarial_messages():
    """Netlink messages with every kind of length field: too short, exact, unaligned, past the
    buffer, huge; types data and control; right and wrong sequence numbers."""
    length = st.one_of(st.sampled_from([0, 1, 3, 4, 15, 16, 17, 19, 20, 87, 88, 89, 90, 92,
                                        0x7FFFFFFF, 0xFFFFFFFF]), st.integers(0, 400))
    mtype = st.sampled_from([1, 2, 3, 4, 16, 20, 24, 0xFFFF])
    seq = st.sampled_from([SEQ, SEQ, SEQ, SEQ + 1, 0])
    payload = st.binary(max_size=120)
    one = st.builds(lambda n, t, f, q, p: struct.pack("=IHHII", n, t, f, q, 0) + p,
                    length, mtype, st.sampled_from([0, 2, 0x10, 0xFFFF]), seq, payload)
    real = socks().map(lambda s: diag_message(s, SEQ))
    return st.lists(st.one_of(one, real, st.binary(max_size=24)), max_size=8).map(b"".join)


def timed(fn, limit: float = 2.0):
    start = time.monotonic()
    result = only_our_errors(fn)
    assert time.monotonic() - start < limit, "the decoder took too long: does it loop?"
    return result


@PROPERTY
@given(st.lists(st.one_of(st.binary(max_size=300), adversarial_messages()), max_size=4),
       st.sampled_from([("tcp", 4), ("tcp", 6), ("udp", 4), ("udp", 6)]))
def test_decode_batches_any_bytes(chunks, kind):
    stats = DumpStats()
    batches = timed(lambda: list(sockdiag.decode_batches(Reply(SEQ, iter(chunks)), kind[0], kind[1],
                                                         stats))) or []
    for batch in batches:
        for s in batch.sockets():
            check_socket_record(s)
            assert (s.proto, s.family) == kind
    assert stats.messages >= sum(len(b) for b in batches)
    assert stats.malformed >= 0


@PROPERTY
@given(st.lists(socks(proto="tcp", family=4), max_size=10), st.lists(socks(proto="tcp", family=6), max_size=10),
       st.integers(1, 5))
def test_sock_diag_round_trip(v4, v6, per_chunk):
    """Sockets encoded as the kernel does (kernel.diag_message) decode to the same records."""
    for family, sockets in ((4, v4), (6, v6)):
        msgs = [diag_message(s, SEQ) for s in sockets]
        chunks = [b"".join(msgs[i:i + per_chunk]) for i in range(0, len(msgs), per_chunk)]
        chunks.append(done_message(SEQ))
        stats = DumpStats()
        got = [s for b in sockdiag.decode_batches(Reply(SEQ, iter(chunks)), "tcp", family, stats)
               for s in b.sockets()]
        assert len(got) == len(sockets) and stats.malformed == stats.foreign == 0
        for s, r in zip(sockets, got):
            same_socket(s, r, netlink=True)


@PROPERTY
@given(st.lists(st.one_of(st.binary(max_size=300), adversarial_messages()), max_size=4))
def test_decode_batches_of_both_families_any_bytes(chunks):
    """A dump of both families (``family`` 0, TCPDIAG_GETSOCK's) from any bytes: records of
    either family, each batch of one, and no error but ours."""
    stats = DumpStats()
    batches = timed(lambda: list(sockdiag.decode_batches(Reply(SEQ, iter(chunks)), "tcp", 0, stats,
                                                         msg_type=20))) or []
    for batch in batches:
        assert batch.family in (4, 6)
        for s in batch.sockets():
            check_socket_record(s)
            assert (s.proto, s.family) == ("tcp", batch.family)
    assert stats.messages >= sum(len(b) for b in batches)


@PROPERTY
@given(st.lists(st.one_of(socks(proto="tcp", family=4), socks(proto="tcp", family=6)), max_size=20),
       st.integers(1, 7))
def test_sock_diag_both_families_round_trip(sockets, per_chunk):
    """Sockets of both families, interleaved as the kernel's table order puts them, in messages
    of type TCPDIAG_GETSOCK (18): each family's records, in its own order."""
    msgs = [(lambda m: m[:4] + struct.pack("=H", sockdiag.TCPDIAG_GETSOCK) + m[6:])(
        diag_message(s, SEQ)) for s in sockets]
    chunks = [b"".join(msgs[i:i + per_chunk]) for i in range(0, len(msgs), per_chunk)]
    chunks.append(done_message(SEQ))
    stats = DumpStats()
    got = [s for b in sockdiag.decode_batches(Reply(SEQ, iter(chunks)), "tcp", 0, stats,
                                              msg_type=sockdiag.TCPDIAG_GETSOCK)
           for s in b.sockets()]
    assert len(got) == len(sockets) and stats.malformed == stats.foreign == 0
    for family in (4, 6):
        mine = [s for s in sockets if s.family == family]
        theirs = [r for r in got if r.family == family]
        assert len(mine) == len(theirs)
        for s, r in zip(mine, theirs):
            same_socket(s, r, netlink=True)


@PROPERTY
@given(adversarial_messages())
def test_iter_messages_any_bytes(chunk):
    """DumpDone is iter_messages' documented signal for the end of a dump (iter_dump takes it)."""
    stats = DumpStats()
    out = []

    def split():
        with suppress(netlink.DumpDone):
            out.extend(netlink.iter_messages(chunk, SEQ, stats, "test"))
    timed(split)
    for mtype, off, length in out:
        assert mtype >= 16 and off >= 16 and length >= 0
        assert off + length <= len(chunk), "a message said to run past its buffer"


@pytest.mark.parametrize("mtype", [2, 3], ids=["NLMSG_ERROR", "NLMSG_DONE"])
@pytest.mark.parametrize("error", [-(2**31), -1, -4095, -(2**31) + 1])
def test_any_error_code(mtype, error):
    """The kernel's error is an int; its negation (-INT_MIN) fits no C int for os.strerror.
    Found by tests/fuzz/run.py (tests/fixtures/fuzz/rtnl_route/crash-4e3e7fadd08c522f)."""
    chunk = nlmsg(mtype, 2, SEQ, struct.pack("=i", error) + bytes(16))
    with pytest.raises(PynetstatError):
        list(netlink.iter_messages(chunk, SEQ, DumpStats(), "test"))


@PROPERTY
@given(st.binary(max_size=400), st.integers(0, 420), st.integers(0, 420))
def test_parse_attrs_any_bytes(buf, off, end):
    attrs = timed(lambda: netlink.parse_attrs(buf, off, min(end, len(buf))))
    for atype, (aoff, alen) in attrs.items():
        assert 0 <= atype <= 0x3FFF
        assert alen >= 0 and aoff + alen <= min(end, len(buf)), "an attribute past its end"


@PROPERTY
@given(st.binary(max_size=600))
def test_read_recording_any_bytes(data):
    result = only_our_errors(netlink.read_recording, data)
    if result is not None:
        seq, chunks = result
        assert all(isinstance(c, bytes) for c in chunks)


# --- rtnetlink -----------------------------------------------------------------------------

RTNL = FIXTURES / "linux" / "stats-host" / "netlink"


def recorded(key: str) -> tuple[int, list[bytes]]:
    return netlink.read_recording((RTNL / f"{key}.nl").read_bytes())


@st.composite
def mutated_dump(draw, key):
    """A recorded rtnetlink dump with bytes changed, attribute lengths rewritten, buffers cut."""
    seq, chunks = recorded(key)
    out = []
    for chunk in chunks:
        b = bytearray(chunk)
        for _ in range(draw(st.integers(0, 8))):
            if not b:
                break
            at = draw(st.integers(0, len(b) - 1))
            if draw(st.booleans()):
                b[at] = draw(st.integers(0, 255))
            else:  # a 16-bit length field (rtattr, rtnexthop) of a chosen value
                b[at:at + 2] = draw(st.sampled_from([0, 1, 3, 4, 5, 6, 8, 0xFFFF])).to_bytes(2, "little")
        if draw(st.booleans()):
            b = b[: draw(st.integers(0, len(b)))]
        out.append(bytes(b))
    return seq, out


def _short_attr_route(attr: int, family: int = 4) -> bytes:
    """An RTM_NEWROUTE whose last attribute (``attr``) carries no payload at all."""
    body = struct.pack("=BBBBBBBBI", 2 if family == 4 else 10, 0, 0, 0, 254, 4, 0, 1, 0)
    body += struct.pack("=HH", 4, attr)
    return nlmsg(rtnetlink.RTM_NEWROUTE, 2, SEQ, body)


@PROPERTY
@given(st.one_of(mutated_dump("rtnl-route4"), mutated_dump("rtnl-route6"),
                 st.builds(lambda c: (SEQ, c), st.lists(adversarial_messages(), max_size=3))),
       st.sampled_from([4, 6]))
@example((SEQ, [_short_attr_route(rtnetlink.RTA_TABLE)]), 4)
@example((SEQ, [_short_attr_route(rtnetlink.RTA_PRIORITY)]), 4)
@example((SEQ, [_short_attr_route(rtnetlink.RTA_OIF)]), 6)
def test_decode_routes_any_bytes(dump, family):
    seq, chunks = dump
    routes = timed(lambda: list(rtnetlink.decode_routes(Reply(seq, iter(chunks)), family,
                                                        {1: "lo", 2: "eth0"}, DumpStats()))) or []
    for r in routes:
        assert 0 <= r.prefix_len <= (32 if family == 4 else 128)
        assert r.metric >= 0 and r.table is None or 0 <= r.table < 2**32


@PROPERTY
@given(st.one_of(mutated_dump("rtnl-link"), st.builds(lambda c: (SEQ, c),
                                                       st.lists(adversarial_messages(), max_size=3))))
def test_decode_links_any_bytes(dump):
    seq, chunks = dump
    links = timed(lambda: list(rtnetlink.decode_links(Reply(seq, iter(chunks)), DumpStats()))) or []
    for link in links:
        assert isinstance(link.name, str)
        if link.stats is not None:
            assert all(v is None or v >= 0 for v in link.stats.as_dict().values())


def test_short_attributes_are_not_read_from_their_neighbours():
    """An RTA_TABLE with no payload, followed by an RTA_PRIORITY: the table must not be read
    from the next attribute's bytes (that would be reading past the attribute)."""
    body = struct.pack("=BBBBBBBBI", 2, 24, 0, 0, 254, 4, 0, 1, 0)
    body += struct.pack("=HH", 4, rtnetlink.RTA_TABLE)
    body += struct.pack("=HHI", 8, rtnetlink.RTA_PRIORITY, 77)
    body += struct.pack("=HH4s", 8, rtnetlink.RTA_DST, bytes([10, 1, 2, 0]))
    routes = list(rtnetlink.decode_routes(Reply(SEQ, iter([nlmsg(24, 2, SEQ, body)])), 4, {}, DumpStats()))
    assert len(routes) == 1
    assert routes[0].table == 254 and routes[0].metric == 77


# --- /proc text of the -s, -e, -r views ---------------------------------------------------------

def fixture_text(rel: str) -> str:
    return (FIXTURES / "linux" / "stats-host" / "proc" / rel).read_text()


def mutated_text(rel: str):
    lines = fixture_text(rel).splitlines()

    @st.composite
    def build(draw):
        out = list(lines)
        for _ in range(draw(st.integers(0, 4))):
            i = draw(st.integers(0, len(out) - 1))
            fields = out[i].split()
            if fields:
                j = draw(st.integers(0, len(fields) - 1))
                fields[j] = draw(st.sampled_from(TRICKY) | st.text(max_size=8))
            out[i] = draw(st.sampled_from([" ", "\t", "  "])).join(fields)
        if draw(st.booleans()):
            out = out[: draw(st.integers(0, len(out)))]
        return "\n".join(out)
    return build()


PROC_PARSERS = [
    ("net/snmp", snmp.parse_paired), ("net/netstat", snmp.parse_paired),
    ("net/snmp6", snmp.parse_snmp6), ("net/dev", rtnetlink.parse_proc_dev),
    ("net/route", rtnetlink.parse_proc_route), ("net/ipv6_route", rtnetlink.parse_proc_ipv6_route),
]


@pytest.mark.parametrize("rel,parse", PROC_PARSERS, ids=[r for r, _ in PROC_PARSERS])
def test_proc_text_parsers_any_text(rel, parse):
    @PROPERTY
    @given(st.one_of(st.text(), mutated_text(rel)))
    @example("Ip: a\nIp: -1\n")
    @example("Inter\nface\n lo: ² 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
    @example("Iface\nlo\t-0000001\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n")
    @example("Iface\nlo\t00000000\t00000000\t0001\t0\t0\t-1\t-0000001\t0\t0\t0\n")
    @example("fe80" + "0" * 28 + " 81 " + "0" * 32 + " 00 " + "0" * 32 + " -0000001 0 0 0 lo\n")
    def prop(text):
        result = only_our_errors(parse, text, "/proc/" + rel)
        if isinstance(result, dict):
            assert all(isinstance(v, int) for group in result.values() for v in group.values())
            monotonic_counters(result)
        elif isinstance(result, list):
            for item in result:
                if hasattr(item, "stats") and item.stats is not None:
                    assert all(v is None or v >= 0 for v in item.stats.as_dict().values())
                if hasattr(item, "prefix_len"):  # a Route: what the renderers draw from it
                    assert 0 <= item.prefix_len <= (32 if item.family == 4 else 128), item.prefix_len
                    assert item.metric >= 0
                    assert item.netmask is None or item.netmask.count(".") == 3
    prop()


@PROPERTY
@given(st.lists(st.tuples(addresses4, st.integers(0, 32), addresses4, st.integers(0, 2**31 - 1)),
                max_size=6))
def test_proc_route_round_trip(routes):
    """IPv4 routes printed as net/ipv4/fib_trie.c does (``%08X`` of the __be32 in host order)."""
    def hexed(a):
        return f"{int.from_bytes(bytes(map(int, a.split('.'))), sys.byteorder):08X}"
    lines = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
    for dst, plen, gw, metric in routes:
        mask = ".".join(str(b) for b in ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF).to_bytes(4, "big"))
        lines.append(f"eth0\t{hexed(dst)}\t{hexed(gw)}\t0003\t0\t0\t{metric}\t{hexed(mask)}\t0\t0\t0")
    got = rtnetlink.parse_proc_route("\n".join(lines))
    assert [(r.destination, r.prefix_len, r.nexthops[0].gateway, r.metric) for r in got] == \
        [(d, p, g, m) for d, p, g, m in routes]


# --- /proc/PID/* -----------------------------------------------------------------------------

@PROPERTY
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda c, r: b"42 (" + c + b") " + r, st.binary(max_size=40),
                           st.sampled_from([b"S 1 " + b"0 " * 17 + b"99 " + b"0 " * 30,
                                            b"S -1 " + b"0 " * 30, b"S", b"", b"S 1 2 3"]))))
def test_parse_stat_any_bytes(data):
    result = only_our_errors(process.parse_stat, data)
    if result is not None:
        comm, state, ppid, start = result
        assert isinstance(comm, str) and isinstance(state, str)
        comm.encode("utf-8", "surrogateescape")


@PROPERTY
@given(st.binary(max_size=40), st.integers(0, 2**22), st.integers(0, 2**40))
def test_parse_stat_round_trip(comm, ppid, start):
    """Any comm (the kernel allows any byte but NUL, and cuts at 15) survives."""
    comm = comm.replace(b"\0", b"")[:15]
    line = b"42 (" + comm + b") S " + str(ppid).encode() + b" " + b"0 " * 17 + str(start).encode() + b" 0" * 30
    assert process.parse_stat(line) == (comm.decode("utf-8", "surrogateescape"), "S", ppid, start)


@PROPERTY
@given(st.binary(max_size=300))
def test_parse_status_uid_any_bytes(data):
    only_our_errors(process.parse_status_uid, data)


@PROPERTY
@given(st.binary(max_size=300))
def test_parse_cmdline_any_bytes(data):
    argv = process.parse_cmdline(data)
    assert all(isinstance(a, str) for a in argv)
    if data:
        assert "\0".join(argv).encode("utf-8", "surrogateescape") == data.removesuffix(b"\0")


CGROUPS = sorted((FIXTURES / "linux" / "proc-cgroup").glob("*.cgroup"))


@PROPERTY
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300),
                 st.sampled_from(CGROUPS).map(Path.read_bytes).flatmap(
                     lambda b: st.builds(lambda cut, junk: b[:cut] + junk, st.integers(0, len(b)),
                                         st.binary(max_size=30)))))
def test_parse_cgroup_any_input(data):
    result = only_our_errors(process.parse_cgroup, data)
    if result is not None:
        path, unit, container = result
        assert path is None or isinstance(path, str)


@PROPERTY
@given(st.text(max_size=400))
def test_parse_services_any_text(text):
    table = parse_services(text)
    assert all(isinstance(k[0], int) and k[0] >= 0 for k in table)


# --- crashes the fuzzer found, kept as regression inputs --------------------------------------

CRASHES = sorted((FIXTURES / "fuzz").glob("*/*")) if (FIXTURES / "fuzz").exists() else []


def fuzz_runner():
    spec = importlib.util.spec_from_file_location(
        "pynetstat_fuzz_run", Path(__file__).resolve().parents[1] / "fuzz" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", CRASHES, ids=[f"{p.parent.name}/{p.name}" for p in CRASHES])
def test_fuzz_crash_inputs(path):
    """Every input the fuzzer (tests/fuzz/run.py) found crashing, replayed: now an answer."""
    fuzz_runner().run_one(path.parent.name, path.read_bytes())


def test_fuzz_targets_take_their_seeds():
    """The fuzz runner's targets accept every fixture it seeds them with (a broken target would
    make ``make fuzz`` report crashes that are the runner's own)."""
    runner = fuzz_runner()
    seeds = runner.seeds()
    assert {name for name, _ in seeds} >= {"proc_net", "sock_diag", "rtnl_link", "rtnl_route",
                                            "snmp", "snmp6", "dev", "route", "ipv6_route", "stat",
                                            "status", "cmdline", "cgroup"}
    for name, data in seeds:
        runner.run_one(name, data)
