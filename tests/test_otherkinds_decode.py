"""The other kinds' decoders and /proc parsers on bytes built here from the kernel's layouts
(include/uapi/linux/{unix,packet,inet}_diag.h, af_unix.c/af_packet.c/raw.c seq_show), so that
what no live kernel here can show (raw_diag, a cut dump, a malformed line) is checked too."""

from __future__ import annotations

import os
import struct
import sys

import pytest

from pynetstat.errors import BackendUnavailable, NetlinkError, ParseError
from pynetstat.linux import packetdiag, rawdiag, unixdiag
from pynetstat.linux.netlink import DumpStats, Reply
from pynetstat.linux.procfs_other import (
    parse_packet,
    parse_ping,
    parse_raw,
    parse_unix,
    parse_unix_line,
)

sys.path.insert(0, os.path.dirname(__file__))
from attack.kernel import Sock, diag_message, done_message, error_message, nlmsg  # noqa: E402

SEQ = 77


def attr(atype: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), atype) + payload + bytes(-len(payload) % 4)


def reply(*messages: bytes, done: bool = True) -> Reply:
    return Reply(SEQ, iter([b"".join(messages) + (done_message(SEQ) if done else b"")]))


def unix_message(ino: int, *attrs: bytes, stype: int = 1, state: int = 1) -> bytes:
    return nlmsg(20, 2, SEQ, struct.pack("=BBBBIII", 1, stype, state, 0, ino, 5, 1) + b"".join(attrs))


# --- unix_diag --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (b"\0pnst.bus", (b"pnst.bus", True)),
    (b"/run/a.sock\0", (b"/run/a.sock", False)),
    (b"@lit\0", (b"@lit", False)),
    (b"\0a\0b", (b"a\0b", True)),
])
def test_split_name(raw, expected):
    assert unixdiag.split_name(raw) == expected


def test_unix_message_with_every_attribute():
    msg = unix_message(
        900, attr(0, b"\0bus\nx"), attr(1, struct.pack("=II", 11, 22)), attr(2, struct.pack("=I", 901)),
        attr(3, struct.pack("=II", 902, 903)), attr(4, struct.pack("=II", 2, 128)),
        attr(5, struct.pack("=9I", *range(9))), attr(6, b"\x01"), attr(7, struct.pack("=I", 1000)),
        state=10)
    (s,) = unixdiag.decode_dump(reply(msg), DumpStats())
    assert (s.inode, s.cookie, s.type, s.state) == (900, (1 << 32) | 5, 1, 10)
    assert (s.name, s.abstract, s.vfs, s.peer, s.icons) == (b"bus\nx", True, (11, 22), 901, (902, 903))
    assert (s.rqueue, s.wqueue, s.backlog, s.shutdown, s.uid) == (2, 128, 128, 1, 1000)
    assert s.meminfo == tuple(range(9))
    assert s.verified and not s.duplicate


def test_unix_peer_is_0_only_when_asked_for():
    msg = unix_message(5)
    assert next(unixdiag.decode_dump(reply(msg), DumpStats())).peer == 0
    asked = unixdiag.DEFAULT_SHOW & ~unixdiag.UDIAG_SHOW_PEER
    assert next(unixdiag.decode_dump(reply(msg), DumpStats(), asked)).peer is None


def test_unix_request_layout():
    req = unixdiag.build_request()
    family, proto, _pad, states, ino, show, c0, c1 = struct.unpack("=BBHIII II", req.payload)
    assert (family, proto, states, ino, show, req.key) == (1, 0, 0xFFFFFFFF, 0, 0x5F, "sock_diag-unix")


def test_cut_dump_and_foreign_messages():
    stats = DumpStats()
    with pytest.raises(BackendUnavailable, match="without NLMSG_DONE"):
        list(unixdiag.decode_dump(reply(unix_message(1), done=False), stats))
    short = nlmsg(20, 2, SEQ, b"\x01\x01")  # shorter than unix_diag_msg
    other = nlmsg(20, 2, SEQ, struct.pack("=BBBBIII", 17, 3, 0, 0, 9, 0, 0))  # AF_PACKET
    stats = DumpStats()
    assert [s.inode for s in unixdiag.decode_dump(reply(short, other, unix_message(3)), stats)] == [3]
    assert stats.malformed == 2
    with pytest.raises(NetlinkError) as e:
        list(unixdiag.decode_dump(Reply(SEQ, iter([error_message(SEQ, 2)])), DumpStats()))
    assert e.value.errno == 2


def listing_message(ino: int, name: bytes | None, peer: int | None, seq: int = SEQ,
                    flags: int = 2, extra: bytes = b"", show: int = unixdiag.LISTING_SHOW) -> bytes:
    """A message as a listing asks for it (``show``, LISTING_SHOW by default): NAME when bound,
    PEER when it has one, RQLEN if asked, SHUTDOWN, UID if asked; ``extra``: an attribute no
    listing asks for, after NAME."""
    attrs = [] if name is None else [attr(0, name)]
    attrs += [extra] if extra else []
    attrs += [] if peer is None else [attr(2, struct.pack("=I", peer))]
    if show & unixdiag.UDIAG_SHOW_RQLEN:
        attrs.append(attr(4, struct.pack("=II", ino % 7, ino % 5)))
    attrs.append(attr(6, b"\x02"))
    if show & unixdiag.UDIAG_SHOW_UID:
        attrs.append(attr(7, struct.pack("=I", 1000 + ino % 3)))
    return nlmsg(20, flags, seq, struct.pack("=BBBBIII", 1, 1 + ino % 2, (1, 7, 10)[ino % 3], 0, ino,
                                             ino * 3, ino % 4) + b"".join(attrs))


# A name that holds what follows a name (PEER, RQLEN, SHUTDOWN, UID) and a whole message: a
# decoder that searched for the fixed tail, or resumed a search inside a name, would split here.
TAIL = (attr(2, struct.pack("=I", 7)) + attr(4, bytes(8)) + attr(6, b"\0") + attr(7, bytes(4)))
FORGED = b"\0" + TAIL + listing_message(66, None, 67)[:60]


def listing_names(ino: int) -> bytes | None:
    """Every padded size of a name (1 to 108 bytes: the 28 alternatives of the pattern), abstract
    and path, and the forged one."""
    size = 1 + ino % 108
    if ino % 5 == 0:
        return None
    if ino % 7 == 0:
        return FORGED[:108]
    if ino % 2:
        return (b"\0" + bytes(range(256)) * 2)[:size]
    return (b"/run/" + b"p" * 120)[: max(size - 1, 1)] + b"\0"


def columns_as_records(columns: dict) -> list[tuple]:
    return list(zip(*(columns[name] for name in unixdiag.COLUMNS)))


def records_as_columns(records: list) -> list[tuple]:
    return [(r.type, r.state, r.inode, r.cookie, r.name, r.abstract, r.peer, r.rqueue, r.wqueue,
             r.uid) for r in records]


@pytest.mark.parametrize("show", [unixdiag.LISTING_SHOW, unixdiag.TABLE_SHOW])
def test_listing_columns_are_the_records(show):
    """decode_columns (buffers of the usual layout decoded whole) gives what decode_dump gives:
    names of every size, forged ones too, with and without peers, in several buffers; the
    buffers that hold something else (NLMSG_DONE, a message with another attribute, one of
    another dump) are walked a message at a time; a message flagged NLM_F_DUMP_INTR is said.
    Both layouts: every field (LISTING_SHOW), and the text table's (TABLE_SHOW: no RQLEN, no
    UID, whose columns are None)."""
    plain = [b"".join(listing_message(i, listing_names(i), None if i % 3 else i + 1, show=show)
                      for i in range(start, start + 60)) for start in range(1, 300, 60)]
    odd = [listing_message(400, b"\0odd", None, extra=attr(1, struct.pack("=II", 1, 2)), show=show),
           listing_message(401, None, 5, seq=SEQ + 1, show=show),
           listing_message(402, b"/x\0", 9, flags=0x12, show=show)]
    buffers = plain + [odd[0] + plain[2], odd[1], odd[2], plain[1] + done_message(SEQ)]
    stats, expected_stats = DumpStats(), DumpStats()
    columns = unixdiag.decode_columns(Reply(SEQ, iter(buffers)), stats, show, fast_after=0)
    walked = unixdiag.decode_columns(Reply(SEQ, iter(buffers)), DumpStats(), show)
    records = list(unixdiag.decode_dump(Reply(SEQ, iter(buffers)), expected_stats, show))
    assert columns_as_records(columns) == records_as_columns(records) == columns_as_records(walked)
    assert len(records) == 5 * 60 + 1 + 60 + 1 + 60  # not the one of another dump
    assert (stats.messages, stats.foreign, stats.interrupted) == (
        expected_stats.messages, expected_stats.foreign, True)
    # the buffers of the usual layout took the column path (the interrupted one too); not the others
    taken = [unixdiag.UnixListing(0, show).add_messages(buf, SEQ, DumpStats()) for buf in buffers]
    assert taken == [True] * 5 + [False, False, True, False]
    # a buffer of the other layout is walked, and read right
    other = unixdiag.LISTING_SHOW + unixdiag.TABLE_SHOW - show
    assert not any(unixdiag.UnixListing(0, other).add_messages(buf, SEQ, DumpStats())
                   for buf in plain)
    assert columns_as_records(unixdiag.decode_columns(Reply(SEQ, iter(buffers)), DumpStats(),
                                                      other, fast_after=0)) == columns_as_records(columns)
    assert (set(columns["uid"]) == {None}) == (show == unixdiag.TABLE_SHOW)


def test_listing_groups_are_the_same_whatever_the_buffers():
    """``UnixListing.groups(size)``: ``size`` rows a group (the last fewer), the same rows
    whichever way the messages fall into buffers and whichever path read them, so that the
    text table's blocks (measured a batch at a time) do not depend on the request's size."""
    messages = [listing_message(i, listing_names(i), None if i % 3 else i + 1,
                                show=unixdiag.TABLE_SHOW) for i in range(1, 400)]

    def groups(cuts, fast_after):
        buffers = [b"".join(messages[a:b]) for a, b in zip((0, *cuts), (*cuts, len(messages)))]
        listing = unixdiag.decode_listing(Reply(SEQ, iter(buffers + [done_message(SEQ)])),
                                          DumpStats(), unixdiag.TABLE_SHOW, fast_after)
        return [columns_as_records(group) for group in listing.groups(64)]

    expected = groups((), 1 << 20)
    assert [len(g) for g in expected] == [64] * 6 + [399 - 6 * 64]
    for cuts in ((10, 100, 101, 250), (63, 64, 65, 200, 398), (200,)):
        assert groups(cuts, 0) == groups(cuts, 70) == expected


def test_listing_columns_without_peers_asked_for():
    """A request without UDIAG_SHOW_PEER: peer None, as decode_dump says; a PEER sent anyway
    (no kernel does) sends its buffer the slow way, which reads it."""
    show = unixdiag.LISTING_SHOW & ~unixdiag.UDIAG_SHOW_PEER
    for peer in (None, 5):
        buffers = [b"".join(listing_message(i, b"\0n", peer) for i in range(1, 9)), done_message(SEQ)]
        columns = unixdiag.decode_columns(Reply(SEQ, iter(buffers)), DumpStats(), show, 0)
        records = list(unixdiag.decode_dump(Reply(SEQ, iter(buffers)), DumpStats(), show))
        assert columns_as_records(columns) == records_as_columns(records)
        assert set(columns["peer"]) == {peer}


# --- packet_diag ------------------------------------------------------------------------------

def packet_message(ino: int, *attrs: bytes, stype: int = 3, proto: int = 3) -> bytes:
    return nlmsg(20, 2, SEQ, struct.pack("=BBHIII", 17, stype, proto, ino, 1, 0) + b"".join(attrs))


def test_packet_message_with_every_attribute():
    mc = struct.pack("=IIHH32s", 4, 1, 0, 6, b"\x01\x00\x5e\x00\x00\x01") + struct.pack(
        "=IIHH32s", 4, 2, packetdiag.PACKET_MR_PROMISC, 0, b"")
    ring = struct.pack("=7I", 1 << 20, 8, 2048, 4096, 60, 0, 1)
    msg = packet_message(
        70, attr(0, struct.pack("=6I", 4, 2, 0, 0, 0, 0x11)), attr(5, struct.pack("=I", 33)),
        attr(1, mc), attr(2, ring), attr(4, struct.pack("=I", 9 | 3 << 16)),
        attr(6, struct.pack("=9I", 512, 0, 0, 0, 0, 0, 0, 0, 0)), attr(7, bytes(24)), proto=0x0800)
    (s,) = packetdiag.decode_dump(reply(msg), DumpStats())
    assert (s.inode, s.type, s.protocol, s.ifindex, s.version, s.flags, s.running) == (70, 3, 0x0800, 4, 2, 0x11, True)
    assert s.memberships == ((4, 0, 1, b"\x01\x00\x5e\x00\x00\x01"), (4, 1, 2, b""))
    assert (s.promiscuous, s.fanout, s.uid, s.rmem, s.filter_len) == (True, (9, 3), 33, 512, 3)
    assert (s.rx_ring.block_size, s.rx_ring.frame_nr, s.rx_ring.retire_tmo, s.tx_ring) == (1 << 20, 4096, 60, None)


def test_packet_absent_attributes_mean_none_of_it_when_asked():
    empty_filter = packet_message(1, attr(1, b""), attr(7, b""))  # no CAP_NET_ADMIN: empty filter
    bare = packet_message(2)
    one, two = packetdiag.decode_dump(reply(empty_filter, bare), DumpStats())
    assert (one.promiscuous, one.memberships, one.filter_len, one.fanout) == (False, (), None, None)
    assert (two.promiscuous, two.filter_len) == (False, 0)
    (three,) = packetdiag.decode_dump(reply(bare), DumpStats(), show=packetdiag.PACKET_SHOW_INFO)
    assert (three.promiscuous, three.filter_len, three.ifindex) == (None, None, None)


# --- raw_diag (not in this kernel: CONFIG_INET_RAW_DIAG unset) --------------------------------

def raw_message(sock: Sock, protocol: int | None) -> bytes:
    body = diag_message(sock, SEQ)[16:]
    return nlmsg(20, 2, SEQ, body + (attr(10, bytes([protocol])) if protocol is not None else b""))


def test_raw_messages_v4_and_v6():
    icmp = Sock("raw", 4, 7, "0.0.0.0", 1, "0.0.0.0", 0, inode=61, uid=0, cookie=(2 << 32) | 3,
                recv_q=768, send_q=0, ifindex=0)
    six = Sock("raw", 6, 1, "::1", 58, "2001:db8::1", 0, inode=62, uid=5, cookie=4, ifindex=1)
    stats = DumpStats()
    (a,) = rawdiag.decode_dump(reply(raw_message(icmp, 1)), stats, 4)
    assert (a.family, a.protocol, a.state, a.local_address, a.remote_address) == (4, 1, 7, "0.0.0.0", "0.0.0.0")
    assert (a.inode, a.uid, a.cookie, a.rqueue, a.wqueue, a.ifindex, a.verified) == (61, 0, (2 << 32) | 3, 768, 0, 0, True)
    (b,) = rawdiag.decode_dump(reply(raw_message(six, None)), stats, 6)  # protocol from the port
    assert (b.family, b.protocol, b.local_address, b.remote_address, b.ifindex) == (6, 58, "::1", "2001:db8::1", 1)
    assert stats.malformed == 0


def test_raw_request_and_missing_module():
    req = rawdiag.build_request(6)
    assert req.payload[:2] == bytes([10, 255]) and req.key == "sock_diag-raw6"
    with pytest.raises(NetlinkError) as e:  # raw_diag missing: NLMSG_DONE carries -ENOENT
        list(rawdiag.decode_dump(Reply(SEQ, iter([done_message(SEQ, -2)])), DumpStats(), 6))
    assert e.value.errno == 2


# --- /proc ------------------------------------------------------------------------------------

UNIX_HEAD = b"Num       RefCount Protocol Flags    Type St Inode Path\n"


def test_unix_line_examples():
    s = parse_unix_line(b"000000001b2c3d4e: 00000002 00000000 00010000 0001 01 21925 /run/dbus/sock")
    assert (s.type, s.state, s.inode, s.name, s.abstract, s.verified) == (1, 10, 21925, b"/run/dbus/sock", False, False)
    s = parse_unix_line(b"0000000075a27762: 00000003 00000000 00000000 0002 03 21930 @pnst")
    assert (s.type, s.state, s.name, s.abstract, s.peer, s.rqueue) == (2, 1, b"@pnst", None, None, None)
    s = parse_unix_line(b"0000000075a27762: 00000003 00000000 00000000 0001 02     0 @pnst")
    assert (s.state, s.inode) == (1, 0)  # a connection not yet accepted
    assert parse_unix_line(b"0000000075a27762: 00000002 00000000 00000000 0001 01 7").name is None


def test_unix_name_with_newlines_is_joined_back():
    data = UNIX_HEAD + (b"00000000000000a1: 00000002 00000000 00000000 0002 01 100 /tmp/a b\n"
                        b"c\n"
                        b"\n"
                        b"00000000000000a2: 00000002 00000000 00000000 0002 01 101\n")
    rows = parse_unix(data)
    assert [(r.inode, r.name) for r in rows] == [(100, b"/tmp/a b\nc\n"), (101, None)]


def test_unix_forged_line_marks_the_inode_duplicate():
    victim = b"00000000000000b1: 00000002 00000000 00010000 0001 01 4242 /run/secret.sock\n"
    forged = (b"00000000000000b2: 00000002 00000000 00000000 0002 01 4343 @x\n"
              b"0000000000000000: 00000002 00000000 00010000 0001 01 4242 /fake\n")
    embryos = b"00000000000000b3: 00000003 00000000 00000000 0001 02     0 @l\n" * 2
    rows = parse_unix(UNIX_HEAD + victim + forged + embryos)
    assert [(r.inode, r.name, r.duplicate) for r in rows] == [
        (4242, b"/run/secret.sock", True), (4343, b"@x", False), (4242, b"/fake", True),
        (0, b"@l", False), (0, b"@l", False)]


def test_unix_malformed_lines_name_file_line_and_text():
    data = UNIX_HEAD + b"garbage\n00000000000000a1: 00000002 00000000 00000000 0002 09 5 /x\n"
    with pytest.raises(ParseError) as e:
        parse_unix(data, "/proc/net/unix")
    assert (e.value.path, e.value.line_no, e.value.line) == ("/proc/net/unix", 2, b"garbage")
    errors: list = []
    assert parse_unix(data, "/proc/net/unix", errors) == []
    assert [(x.line_no, "state" in x.why) for x in errors] == [(2, False), (3, True)]


def test_packet_lines():
    text = ("sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n"
            "000000007c6f8d65 3      3    0003   2     1 0      0      31137   \n"
            "000000007c6f8d66 3      2    0800   0     0 2304   1000   31138   \n")
    a, b = parse_packet(text)
    assert (a.type, a.protocol, a.ifindex, a.running, a.rmem, a.uid, a.inode) == (3, 3, 2, True, 0, 0, 31137)
    assert (b.type, b.protocol, b.ifindex, b.running, b.rmem, b.uid, b.promiscuous) == (2, 0x800, 0, False, 2304, 1000, None)
    with pytest.raises(ParseError) as e:
        parse_packet(text.splitlines()[0] + "\nffff 3 3 0003 2 7 0 0 1\n", "/proc/net/packet")
    assert e.value.line_no == 2 and "running" in e.value.why


RAW_HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"


def test_raw_and_ping_lines():
    raw = RAW_HEAD + " 172: 0100007F:00FD 00000000:0000 07 00000010:00000300 00:00000000 00000000     0        0 828201 2 000000009dd11821 4\n"
    (r,) = parse_raw(raw, "/proc/net/raw", 4, byteorder="little")
    assert (r.protocol, r.local_address, r.state, r.wqueue, r.rqueue, r.inode, r.drops, r.ifindex) == \
        (253, "127.0.0.1", 7, 0x10, 0x300, 828201, 4, None)
    six = RAW_HEAD + "  22: 00000000000000000000000001000000:0D34 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 828205 2 00000000889aa8e7 0\n"
    (p,) = parse_ping(six, "/proc/net/icmp6", 6)
    assert (p.family, p.local_address, p.ident, p.uid, p.inode) == (6, "::1", 0x0D34, 1000, 828205)
    with pytest.raises(ParseError) as e:  # an IPv6 line in the IPv4 file
        parse_ping(six, "/proc/net/icmp", 4)
    assert e.value.path == "/proc/net/icmp" and "wrong family" in e.value.why


# --- probes -----------------------------------------------------------------------------------

class _Answers:
    """A source answering each probe key from a table: 0 (an empty dump) or an errno."""

    def __init__(self, answers: dict):
        self.answers = answers

    def dump(self, request):
        err = self.answers[request.key.removeprefix("probe-")]
        if err == "refused":  # an address family without a handler: NLMSG_ERROR
            return Reply(SEQ, iter([error_message(SEQ, 2)]))
        return Reply(SEQ, iter([done_message(SEQ, -err)]))


def test_probes_tell_present_from_missing():
    from pynetstat.linux import diagprobe

    answers = dict.fromkeys(diagprobe.PAYLOADS, 2)
    answers.update(unix=0, packet=0, mptcp=0, vsock="refused")
    got = diagprobe.probe_all(_Answers(answers))
    assert [k for k, e in got.items() if e is None] == ["unix", "packet", "mptcp"]
    assert {e.errno for e in got.values() if e is not None} == {2}
    # MPTCP (262) does not fit the u8 protocol: it goes in INET_DIAG_REQ_PROTOCOL
    payload = diagprobe.probe_request("mptcp").payload
    assert payload[1] == 262 & 0xFF and payload[56:] == struct.pack("=HHI", 8, 3, 262)
