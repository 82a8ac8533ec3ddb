"""The kinds of issue 12 beyond UNIX, RAW and PACKET: MPTCP, SCTP and VSOCK.

VSOCK's decoding is checked on messages built by the independent encoder of
tests/attack/kernel.py (no kernel here has vsock_diag, so no live dump is possible); the lines
said when a kind's diag module is missing are checked on built replies and on the live kernel
(whose answer the test asks for itself, over its own netlink socket). MPTCP's live rows:
tests/test_mptcp_live.py.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

import pytest

from helpers import parse_table, run_inprocess
from pynetstat.kinds import BY_NAME, BY_OPTION, KINDS
from pynetstat.linux import vsockdiag
from pynetstat.linux.netlink import DumpStats, Reply
from pynetstat.linux.sockdiag import request_for
from test_otherkinds_cli import check_rows

sys.path.insert(0, os.path.dirname(__file__))
from attack.kernel import done_message, error_message, vsock_message  # noqa: E402

ANY = 0xFFFFFFFF  # VMADDR_CID_ANY, VMADDR_PORT_ANY
LISTEN, ESTABLISHED, SYN_SENT, CLOSE = 10, 1, 2, 7
STREAM, DGRAM, SEQPACKET = 1, 2, 5
ENOENT = 2


class Answers:
    """A netlink source answering each request key with the buffers ``make(seq)`` builds;
    ``error_message(seq, EOPNOTSUPP)`` for a key it has no answer for (a kernel that does not
    know the request)."""

    def __init__(self, **answers):
        self.answers = answers
        self.seq = 500
        self.keys: list[str] = []

    def dump(self, request) -> Reply:
        self.seq += 1
        self.keys.append(request.key)
        make = self.answers.get(request.key.replace("-", "_"))
        chunks = [error_message(self.seq, 95)] if make is None else make(self.seq)
        return Reply(self.seq, iter(chunks))

    def close(self) -> None:
        pass


def vsock_scene(seq: int) -> list[bytes]:
    """A stream listener on any CID, port 1024; a connection to it from CID 3 accepted (in the
    connected table) and the guest's end; a datagram socket bound to CID 2; a socket connecting
    (SYN_SENT) and a seqpacket socket never bound."""
    msgs = [
        vsock_message(seq, stype=STREAM, state=LISTEN, src=(ANY, 1024), dst=(ANY, ANY),
                      inode=7001, cookie=0x1_0000_0001),
        vsock_message(seq, stype=STREAM, state=ESTABLISHED, src=(2, 1024), dst=(3, 49152),
                      inode=7002, cookie=2),
        vsock_message(seq, stype=STREAM, state=ESTABLISHED, src=(3, 49152), dst=(2, 1024),
                      inode=7003, cookie=3, shutdown=1),
        vsock_message(seq, stype=DGRAM, state=CLOSE, src=(2, 5000), dst=(ANY, ANY),
                      inode=7004, cookie=4),
        vsock_message(seq, stype=STREAM, state=SYN_SENT, src=(3, 49153), dst=(2, 2222),
                      inode=7005, cookie=5),
        vsock_message(seq, stype=SEQPACKET, state=CLOSE, src=(ANY, ANY), dst=(ANY, ANY),
                      inode=7006, cookie=6),
    ]
    return [b"".join(msgs[:3]), b"".join(msgs[3:]) + done_message(seq)]


def missing(seq: int, refused: bool) -> list[bytes]:
    """A kernel without the handler: sock_diag refuses a family it has no handler for with
    NLMSG_ERROR -ENOENT; inet_diag ends the dump with NLMSG_DONE carrying -ENOENT."""
    return [error_message(seq, ENOENT) if refused else done_message(seq, -ENOENT)]


# --- the table ---------------------------------------------------------------------------------

def test_rows_of_the_table():
    for name, option, label, shape in (("mptcp", "MPTCP", "MPTCP", "inet"),
                                       ("mptcp6", "MPTCPv6", "MPTCP", "inet"),
                                       ("sctp", "SCTP", "SCTP", "inet"),
                                       ("sctp6", "SCTPv6", "SCTP", "inet"),
                                       ("vsock", "VSOCK", "VSOCK", "vsock")):
        kind = BY_NAME[name]
        assert (kind.option, kind.label, kind.shape, kind.spec, kind.proc_file) == (
            option, label, shape, False, "")
        assert BY_OPTION[option] is kind
    # the spec's kinds stay the default view
    assert [k.name for k in KINDS if k.spec] == ["tcp", "tcp6", "udp", "udp6"]


def test_mptcp_request_names_the_protocol_in_an_attribute():
    """IPPROTO_MPTCP (262) does not fit sdiag_protocol: the request carries
    INET_DIAG_REQ_PROTOCOL (3, u32); the u8 field is 0, which no handler serves, so that a
    kernel older than the attribute answers ENOENT rather than dumping TCP."""
    for name, af in (("mptcp", socket.AF_INET), ("mptcp6", socket.AF_INET6)):
        payload = request_for(BY_NAME[name], 0x400).payload
        assert payload[:8] == struct.pack("=BBBBI", af, 0, 0, 0, 0x400)
        assert payload[56:] == struct.pack("=HHI", 8, 3, 262)
        program = b"\x00\x04\x08\x00"
        payload = request_for(BY_NAME[name], 0x400, 0, program).payload
        assert payload[56:] == struct.pack("=HH", 8, 1) + program + struct.pack("=HHI", 8, 3, 262)
    tcp = request_for(BY_NAME["tcp"], 0x400).payload
    assert len(tcp) == 56 and tcp[1] == 6


# --- VSOCK --------------------------------------------------------------------------------------

def test_vsock_request_layout():
    payload = vsockdiag.build_request(0x482).payload
    assert payload == struct.pack("=BBHIIIII", 40, 0, 0, 0x482, 0, 0, 0, 0)


def test_vsock_messages_decode():
    socks = list(vsockdiag.decode_dump(Reply(9, iter(vsock_scene(9))), DumpStats()))
    assert [(s.type, s.state, s.local_cid, s.local_port, s.remote_cid, s.remote_port, s.inode,
             s.cookie, s.shutdown) for s in socks] == [
        (STREAM, LISTEN, ANY, 1024, ANY, ANY, 7001, 0x1_0000_0001, 0),
        (STREAM, ESTABLISHED, 2, 1024, 3, 49152, 7002, 2, 0),
        (STREAM, ESTABLISHED, 3, 49152, 2, 1024, 7003, 3, 1),
        (DGRAM, CLOSE, 2, 5000, ANY, ANY, 7004, 4, 0),
        (STREAM, SYN_SENT, 3, 49153, 2, 2222, 7005, 5, 0),
        (SEQPACKET, CLOSE, ANY, ANY, ANY, ANY, 7006, 6, 0),
    ]


def test_vsock_message_of_another_family_or_too_short_is_counted():
    good = vsock_message(9, stype=STREAM, state=LISTEN, src=(2, 1), dst=(ANY, ANY), inode=1,
                         cookie=1)
    other = bytearray(good)
    other[16] = 2  # AF_INET in the family byte
    short = struct.pack("=IHHII", 16 + 8, 20, 2, 9, 0) + bytes([40]) + bytes(7)
    stats = DumpStats()
    socks = list(vsockdiag.decode_dump(
        Reply(9, iter([good + bytes(other) + short + done_message(9)])), stats))
    assert len(socks) == 1 and stats.malformed == 2


def test_vsock_rows():
    source = Answers(sock_diag_vsock=vsock_scene)
    result = run_inprocess(["-a", "-p", "vsock"], netlink=source, resolve_budget="0")
    assert (result.status, result.err) == (0, ""), result
    assert source.keys == ["sock_diag-vsock"]
    rows = [line.split() for line in result.out.splitlines()[4:]]
    assert rows == [
        ["VSOCK", "*:1024", "*:*", "STREAM", "LISTENING"],
        ["VSOCK", "2:1024", "3:49152", "STREAM", "ESTABLISHED"],
        ["VSOCK", "3:49152", "2:1024", "STREAM", "ESTABLISHED"],
        ["VSOCK", "2:5000", "*:*", "DGRAM", "CLOSED"],
        ["VSOCK", "3:49153", "2:2222", "STREAM", "SYN_SENT"],
        ["VSOCK", "*:*", "*:*", "SEQPACKET", "CLOSED"],
    ]
    assert result.out.splitlines()[3] == result.out.splitlines()[3].rstrip()


def test_vsock_without_a_lists_the_connections():
    """Without -a, as for UNIX sockets: the active states (the request's mask leaves listeners
    and closed sockets out; a built reply holds them all, and the listing applies the mask)."""
    source = Answers(sock_diag_vsock=vsock_scene)
    result = run_inprocess(["-p", "vsock"], netlink=source, resolve_budget="0")
    assert result.status == 0, result
    assert [line.split()[1:3] for line in result.out.splitlines()[4:]] == [
        ["2:1024", "3:49152"], ["3:49152", "2:1024"], ["3:49153", "2:2222"]]


def test_vsock_json_rows_follow_the_document():
    source = Answers(sock_diag_vsock=vsock_scene)
    result = run_inprocess(["-a", "-p", "vsock", "--json"], netlink=source, resolve_budget="0")
    assert result.status == 0, result
    doc = json.loads(result.out)
    check_rows(doc)
    first, accepted = doc["connections"][:2]
    assert first == {"proto": "vsock", "family": "vsock", "state": "LISTENING",
                     "kernel_state": "LISTEN", "recv_q": None, "send_q": None, "uid": None,
                     "inode": 7001, "cookie": 0x1_0000_0001, "pid": None, "owners": None,
                     "type": "stream", "local_cid": ANY, "local_port": 1024, "remote_cid": ANY,
                     "remote_port": ANY}
    assert (accepted["local_cid"], accepted["remote_cid"], accepted["remote_port"]) == (2, 3, 49152)
    assert doc["sources"] == {"vsock": "netlink"}


# --- a missing diag module: one line, the rest listed --------------------------------------------

def test_missing_modules_are_one_line_each():
    source = Answers(sock_diag_vsock=lambda seq: missing(seq, True),
                     sock_diag_mptcp=lambda seq: missing(seq, False),
                     sock_diag_mptcp6=lambda seq: missing(seq, False),
                     sock_diag_sctp=lambda seq: missing(seq, False),
                     sock_diag_sctp6=lambda seq: missing(seq, False))
    result = run_inprocess(["-an", "-p", "mptcp,mptcpv6,sctp,sctpv6,vsock"], netlink=source,
                           resolve_budget="0")
    assert result.status == 0
    assert result.out.splitlines()[4:] == []
    assert result.err.splitlines() == [
        f"pynetstat: {name}: not listed: this kernel has no {module} (sock_diag answered ENOENT)"
        for name, module in (("mptcp", "mptcp_diag"), ("mptcp6", "mptcp_diag"),
                             ("sctp", "sctp_diag"), ("sctp6", "sctp_diag"),
                             ("vsock", "vsock_diag"))]
    doc = json.loads(run_inprocess(["-an", "-p", "mptcp,vsock", "--json"], netlink=source,
                                   resolve_budget="0").out)
    assert doc["sources"] == {"mptcp": "unavailable", "vsock": "unavailable"}
    assert doc["fallback_reasons"]["vsock"] == \
        "sock_diag vsock: No such file or directory (errno 2)"


def test_a_missing_kind_leaves_the_others_listed():
    source = Answers(sock_diag_vsock=vsock_scene,
                     sock_diag_mptcp=lambda seq: missing(seq, False))
    result = run_inprocess(["-an", "-p", "mptcp,vsock"], netlink=source, resolve_budget="0")
    assert result.status == 0
    assert len(result.out.splitlines()[4:]) == 6
    assert result.err == ("pynetstat: mptcp: not listed: this kernel has no mptcp_diag "
                          "(sock_diag answered ENOENT)\n")


def test_sctp_dump_is_read_but_not_decoded_yet():
    """A kernel with sctp_diag: its reply is read to the end (the next request on the socket
    meets no leftover) and one line says it is not decoded."""
    source = Answers(sock_diag_sctp=lambda seq: [done_message(seq)], sock_diag_vsock=vsock_scene)
    result = run_inprocess(["-an", "-p", "sctp,vsock"], netlink=source, resolve_budget="0")
    assert result.status == 0
    assert len(result.out.splitlines()[4:]) == 6
    assert result.err == ("pynetstat: sctp: not listed: sock_diag sctp: pynetstat does not "
                          "decode sctp_diag replies yet\n")


# --- live: this kernel's own answer --------------------------------------------------------------

def _kernel_has_handler(family: int, protocol: int) -> bool:
    """Ask the kernel over a netlink socket of the test's own: a dump of no state answered
    without error (the handler exists) or with ENOENT (none)."""
    payload = struct.pack("=BBBBI", family, protocol, 0, 0, 0) + bytes(48)
    if family == 40:  # struct vsock_diag_req
        payload = struct.pack("=BBHIIIII", 40, 0, 0, 0, 0, 0, 0, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4) as nl:  # NETLINK_SOCK_DIAG
        nl.sendto(struct.pack("=IHHII", 16 + len(payload), 20, 0x301, 1, 0) + payload, (0, 0))
        while True:
            data = nl.recv(65536)
            off = 0
            while off < len(data):
                length, mtype = struct.unpack_from("=IH", data, off)
                if mtype in (2, 3):  # NLMSG_ERROR, NLMSG_DONE: the error is the first int
                    return struct.unpack_from("=i", data, off + 16)[0] != -ENOENT
                off += (length + 3) & ~3


@pytest.mark.parametrize("option, name, module, family, protocol", [
    ("vsock", "vsock", "vsock_diag", 40, 0),
    ("sctp", "sctp", "sctp_diag", socket.AF_INET, 132),
    ("sctpv6", "sctp6", "sctp_diag", socket.AF_INET6, 132),
])
def test_live_missing_module_line(option, name, module, family, protocol):
    if _kernel_has_handler(family, protocol):
        pytest.skip(f"this kernel has {module}")
    result = run_inprocess(["-an", "-p", option], resolve_budget="0")
    assert result.status == 0
    assert result.out.splitlines()[4:] == []
    assert result.err == (f"pynetstat: {name}: not listed: this kernel has no {module} "
                          "(sock_diag answered ENOENT)\n")


def test_live_all_lists_what_is_there_and_names_what_is_not():
    result = run_inprocess(["-an", "-p", "all"], resolve_budget="0")
    assert result.status == 0, result
    parse_table("\n".join(line for line in result.out.split("\n")
                          if not line.startswith(("  UNIX", "  RAW", "  ICMP", "  PACKET",
                                                  "  VSOCK")))
                , pids=False)
    lines = result.err.splitlines()
    for name, module, family, protocol in (("sctp", "sctp_diag", socket.AF_INET, 132),
                                           ("sctp6", "sctp_diag", socket.AF_INET6, 132),
                                           ("vsock", "vsock_diag", 40, 0)):
        line = (f"pynetstat: {name}: not listed: this kernel has no {module} (sock_diag "
                "answered ENOENT)")
        assert (line in lines) != _kernel_has_handler(family, protocol), result.err
    assert len(lines) == len(set(lines))


# --- struct mptcp_info ---------------------------------------------------------------------------

# include/uapi/linux/mptcp.h, written out here apart from the decoder's table: the 6.10 struct
MPTCP_INFO = struct.Struct("=BBBBBB2xIIQQQBBBxIQQQQB3xIII")


def test_mptcp_info_decodes_each_kernels_struct():
    values = (1, 2, 3, 4, 5, 6, 3, 0xDEADBEEF, 10, 11, 12, 7, 8, 1, 9, 100, 200, 300, 400, 2,
              31, 32, 33)
    payload = MPTCP_INFO.pack(*values)
    assert len(payload) == 96
    from pynetstat.linux.mptcpinfo import FIELDS, decode_mptcp_info

    names = [name for name, _fmt, _off in FIELDS]
    assert decode_mptcp_info(payload).as_dict() == dict(zip(names, values))
    # Linux 5.9 sent 40 bytes, 5.12 42, 5.14 43 (padded to 44), 6.5 80, 6.8 81 (84)
    for size, known in ((40, 11), (44, 14), (80, 19), (84, 20)):
        got = decode_mptcp_info(payload[:size]).as_dict()
        assert got == dict(zip(names, values[:known] + (None,) * (len(names) - known))), size
    assert decode_mptcp_info(payload).flag_names() == ["fallback", "remote_key"]


def test_mptcp_info_in_the_extensions_of_a_dump():
    """--info on an MPTCP dump: INET_DIAG_INFO read as struct mptcp_info (the run path and the
    message-at-a-time path alike), never as tcp_info."""
    from attack.kernel import Sock, diag_message
    from pynetstat.linux.sockdiag import decode_batches

    info = MPTCP_INFO.pack(0, 0, 0, 2, 0, 0, 2, 0xABC, 1, 1, 2, 0, 0, 0, 0, 0, 5, 0, 5, 1, 4, 4, 4)
    # INET_DIAG_SHUTDOWN (u8, padded), then INET_DIAG_INFO
    attrs = struct.pack("=HH", 5, 8) + b"\0\0\0\0" + struct.pack("=HH", 100, 2) + info

    def message(port: int) -> bytes:
        base = diag_message(Sock(proto="mptcp", family=4, local="127.0.0.1", lport=port,
                                 remote="127.0.0.1", rport=5000, state=1, inode=port,
                                 cookie=port), 9)
        body = base[16:] + attrs
        return struct.pack("=IHHII", 16 + len(body), 20, 2, 9, 0) + body

    for count in (1, 3):
        chunks = [b"".join(message(4000 + i) for i in range(count)) + done_message(9)]
        (batch,) = decode_batches(Reply(9, iter(chunks)), "mptcp", 4, DumpStats(),
                                  extensions=True)
        assert [(e.info, e.mptcp.token, e.mptcp.subflows_total) for e in batch.extensions] == [
            (None, 0xABC, 1)] * count
