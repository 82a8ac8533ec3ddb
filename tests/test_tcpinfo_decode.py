"""The sock_diag extension decoders on hand-built payloads: struct tcp_info laid out here from
include/uapi/linux/tcp.h independently of pynetstat's field table, at the lengths kernels have
sent; meminfo, skmeminfo, strings, TOS; the timer as ss -o prints it; request layouts."""

from __future__ import annotations

import struct
import sys

import pytest

from pynetstat.linux import diagext, diagreq
from pynetstat.linux.tcpinfo import SIZE, decode_tcp_info

# struct tcp_info of Linux 6.18, written out by hand: 8 u8 (two of them bit fields), 24 u32,
# then u64 rates and counters... A little-endian host's bit fields fill from the low bit.
LAYOUT = "<8B 24I 4Q 6I 4Q 2I 2Q 6I 2H 9I"
assert struct.calcsize(LAYOUT) == 280
VALUES = (
    1, 3, 2, 1, 4, 0b1111, (9 << 4) | 7, 0b101,  # state..options, wscale snd 7 rcv 9, app_limited 1 + tfo fail 2
    204000, 40000, 1448, 536,  # rto ato snd_mss rcv_mss
    5, 1, 2, 3, 0,  # unacked sacked lost retrans fackets
    10, 0, 20, 30,  # last_data_sent last_ack_sent last_data_recv last_ack_recv
    1500, 64000, 50123, 2500, 7, 42, 1448, 3,  # pmtu rcv_ssthresh rtt rttvar ssthresh cwnd advmss reordering
    48000, 65000, 17,  # rcv_rtt rcv_space total_retrans
    125000, 2**64 - 1, 10_000_000, 20_000_000,  # pacing max_pacing bytes_acked bytes_received
    9000, 8000, 11, 50000, 7000, 6000,  # segs_out segs_in notsent min_rtt data_segs_in data_segs_out
    99999, 1000, 200, 300,  # delivery_rate busy rwnd_limited sndbuf_limited
    6500, 4,  # delivered delivered_ce
    10_500_000, 24_616,  # bytes_sent bytes_retrans
    2, 1, 3, 70000, 80000, 1,  # dsack_dups reord_seen rcv_ooopack snd_wnd rcv_wnd rehash
    5, 2,  # total_rto (u16) total_rto_recoveries (u16)
    900, 1, 2, 3, 4, 5, 6, 7, (0xABCDEF << 8) | (0b1001 << 4) | (0b10 << 2) | 0b01,
)
little_only = pytest.mark.skipif(sys.byteorder != "little", reason="payload built little-endian")


@little_only
def test_a_whole_tcp_info_of_this_kernel_generation():
    info = decode_tcp_info(struct.pack(LAYOUT, *VALUES))
    assert SIZE == info.length == 280
    assert (info.state, info.ca_state, info.retransmits, info.probes, info.backoff) == (1, 3, 2, 1, 4)
    assert (info.snd_wscale, info.rcv_wscale) == (7, 9)
    assert (info.delivery_rate_app_limited, info.fastopen_client_fail) == (1, 2)
    assert (info.rto, info.ato, info.snd_mss, info.rcv_mss) == (204000, 40000, 1448, 536)
    assert (info.last_data_sent, info.last_data_recv, info.last_ack_recv) == (10, 20, 30)
    assert (info.rtt, info.rttvar, info.snd_ssthresh, info.snd_cwnd) == (50123, 2500, 7, 42)
    assert (info.total_retrans, info.pacing_rate, info.max_pacing_rate) == (17, 125000, 2**64 - 1)
    assert (info.bytes_acked, info.bytes_received, info.segs_out, info.segs_in) == (10**7, 2 * 10**7, 9000, 8000)
    assert (info.notsent_bytes, info.min_rtt, info.delivery_rate) == (11, 50000, 99999)
    assert (info.busy_time, info.rwnd_limited, info.sndbuf_limited) == (1000, 200, 300)
    assert (info.bytes_sent, info.bytes_retrans, info.snd_wnd, info.rcv_wnd) == (10_500_000, 24_616, 70000, 80000)
    assert (info.total_rto, info.total_rto_recoveries, info.total_rto_time) == (5, 2, 900)
    assert (info.received_ce, info.received_ce_bytes) == (1, 7)
    assert (info.ecn_mode, info.accecn_opt_seen, info.accecn_fail_mode, info.options2) == (1, 2, 9, 0xABCDEF)
    assert info.option_names() == ("ts", "sack", "ecn", "wscale")


@little_only
@pytest.mark.parametrize("length, last, first_missing", [
    (104, "total_retrans", "pacing_rate"),  # Linux 2.6 - 3.14
    (192, "sndbuf_limited", "delivered"),  # 4.10
    (232, "snd_wnd", "rcv_wnd"),  # 5.4 - 6.1: no rcv_wnd, rehash
    (248, "total_rto_time", "received_ce"),  # 6.7
])
def test_an_older_kernels_shorter_tcp_info_leaves_later_fields_unknown(length, last, first_missing):
    info = decode_tcp_info(struct.pack(LAYOUT, *VALUES)[:length])
    whole = decode_tcp_info(struct.pack(LAYOUT, *VALUES))
    assert getattr(info, last) == getattr(whole, last)
    assert getattr(info, first_missing) is None
    assert info.ecn_mode is None and info.length == length


@little_only
def test_a_newer_kernels_longer_tcp_info_decodes_what_we_know():
    payload = struct.pack(LAYOUT, *VALUES)
    assert decode_tcp_info(payload + bytes(16)).as_dict() == decode_tcp_info(payload).as_dict()


@little_only
def test_what_ss_derives_from_tcp_info():
    info = decode_tcp_info(struct.pack(LAYOUT, *VALUES))
    # misc/ss.c: send = cwnd * mss * 8000000 / rtt (us); pacing and delivery rates * 8
    assert info.send_rate_bps() == pytest.approx(42 * 1448 * 8_000_000 / 50123)
    assert info.pacing_rate_bps() == 1_000_000.0
    assert info.delivery_rate_bps() == 799992.0
    assert info.ssthresh() == 7
    assert info.limited_percent() == (20.0, 30.0)
    unlimited = decode_tcp_info(struct.pack(LAYOUT, *VALUES[:32], 2**64 - 1, *VALUES[33:]))
    assert unlimited.pacing_rate_bps() is None


def test_meminfo_skmeminfo_strings_and_tos():
    ext = diagext.decode_extensions({
        diagext.INET_DIAG_MEMINFO: struct.pack("=4I", 1, 2, 3, 4),
        diagext.INET_DIAG_SKMEMINFO: struct.pack("=7I", 10, 20, 30, 40, 50, 60, 70),  # Linux 3.6: no bl, d
        diagext.INET_DIAG_CONG: b"cubic\0",
        diagext.INET_DIAG_TOS: bytes([0xB8]),
        diagext.INET_DIAG_SHUTDOWN: bytes([2]),
        14: bytes(4),  # INET_DIAG_PAD: ignored
    })
    assert ext.meminfo.as_dict() == {"rmem": 1, "wmem": 2, "fmem": 3, "tmem": 4}
    assert (ext.skmeminfo.rmem_alloc, ext.skmeminfo.optmem, ext.skmeminfo.backlog, ext.skmeminfo.drops) == (10, 70, None, None)
    assert (ext.congestion, ext.tos, ext.tclass, ext.shutdown, ext.info) == ("cubic", 0xB8, None, 2, None)
    assert ext.dscp(ipv4=True) == ext.dscp(ipv4=False) == 46  # EF
    v6 = diagext.decode_extensions({diagext.INET_DIAG_TOS: b"\0", diagext.INET_DIAG_TCLASS: bytes([0x28])})
    assert (v6.dscp(ipv4=False), v6.dscp(ipv4=True)) == (10, 0)
    assert diagext.decode_extensions({}).as_dict() == dict.fromkeys(diagext.Extensions.__slots__)


@pytest.mark.parametrize("ms, text", [
    (7200, "7.200sec"), (950, "950ms"), (5, "005ms"), (10000, "10sec"), (12345, "12sec"),
    (61000, "1min1sec"), (61500, "1min1sec"), (7140000, "119min"), (0, ""),
])
def test_timer_text_is_ss_print_ms_timer(ms, text):
    assert diagext.format_ms_timer(ms) == text


def test_timer_records():
    assert diagext.decode_timer(2, 7200, 0).ss_text() == "timer:(keepalive,7.200sec,0)"
    assert diagext.decode_timer(1, 204, 3).ss_text() == "timer:(on,204ms,3)"
    assert diagext.decode_timer(3, 59000, 0).name == "timewait"
    assert diagext.decode_timer(0, 0, 0).ss_text() == ""
    assert diagext.decode_timer(9, 1, 0).name == "unknown"


def test_request_masks_and_layouts():
    assert (diagext.EXT_MEMINFO, diagext.EXT_INFO, diagext.EXT_CONG, diagext.EXT_TOS,
            diagext.EXT_TCLASS, diagext.EXT_SKMEMINFO) == (1, 2, 8, 16, 32, 64)
    req = diagreq.diag_request(4, "tcp", states=diagreq.STATE_BOUND, ext=diagext.GROUP_INFO)
    assert req.msg_type == 20 and req.flags == 0x301 and len(req.payload) == 56
    assert req.payload[:8] == struct.pack("=BBBBI", 2, 6, 0x0A, 0, 1 << 13)
    assert req.payload[-8:] == b"\xff" * 8  # INET_DIAG_NOCOOKIE
    kill = diagreq.destroy_socket(6, "tcp", ("::1", 80), ("::1", 0x1234), cookie=(7 << 32) | 9)
    assert kill.msg_type == 21 and kill.flags == 0x05  # NLM_F_REQUEST | NLM_F_ACK
    assert kill.payload[8:12] == b"\x00\x50\x12\x34"  # ports, big-endian
    assert kill.payload[12:28] == bytes(15) + b"\x01"
    assert kill.payload[-8:] == struct.pack("=II", 9, 7)


def test_records_are_keyword_only_and_complete():
    with pytest.raises(TypeError):
        diagext.Timer(kind=1, expires_ms=2)
    with pytest.raises(TypeError):
        diagext.MemInfo(1, 2, 3, 4)
    with pytest.raises(TypeError):
        decode_tcp_info(bytes(104)).__class__(length=0, nonsense=1)


@little_only
def test_the_keyword_constructor_makes_the_same_record_as_the_decoder():
    from pynetstat.linux.tcpinfo import TcpInfo

    for length in (104, 280):
        decoded = decode_tcp_info(struct.pack(LAYOUT, *VALUES)[:length])
        assert TcpInfo(length=length, **decoded.as_dict()) == decoded


def test_the_decoders_records_equal_keyword_built_ones():
    assert diagext.decode_timer(2, 7200, 1) == diagext.Timer(kind=2, expires_ms=7200, retrans=1)
    assert diagext.decode_skmeminfo(struct.pack("=9I", *range(9))) == diagext.SkMemInfo(
        **dict(zip(diagext.SK_MEMINFO_FIELDS, range(9))))
    assert diagext.decode_extensions({diagext.INET_DIAG_TOS: b"\x04"}) == diagext.Extensions(
        info=None, meminfo=None, skmeminfo=None, congestion=None, tos=4, tclass=None, shutdown=None,
        timer=None, mptcp=None)


def test_the_ss_oracle_accepts_what_moved_between_readings_and_nothing_else():
    from ss_oracle import compare, parse_ss

    line = ("ESTAB 0 0 127.0.0.1:5 127.0.0.1:6 timer:(keepalive,9min56sec,0) tos:0xb8 "
            "skmem:(r0,rb1,t0,tb2,f0,w0,o0,bl0,d0) ts sack reno wscale:10,10 rtt:0.05/0.02 "
            "send 1000bps lastsnd:12 pacing_rate 5bps/9bps")
    fields = parse_ss("State ...\n" + line)[(("127.0.0.1", 5), ("127.0.0.1", 6))]
    assert fields["timer"] == "keepalive,9min56sec,0" and fields["pacing_rate"] == "5bps/9"
    assert fields["reno"] == "" and fields["send"] == "1000" and fields["skmem"].startswith("r0,rb1")
    ours = {k: v for k, v in fields.items() if k not in ("state", "recvq", "sendq")}
    assert compare(fields, ours, ours) == []
    assert compare(fields, {**ours, "lastsnd": "10"}, {**ours, "lastsnd": "20"}) == []
    assert compare(fields, {**ours, "lastsnd": "13"}, {**ours, "lastsnd": "20"}) != []
    assert compare(fields, {k: v for k, v in ours.items() if k != "lastsnd"}, ours) == []  # 0 -> 12
    assert compare(fields, {**ours, "timer": "keepalive,9min57sec,0"}, {**ours, "timer": "keepalive,9min55sec,0"}) == []
    assert compare(fields, {**ours, "timer": "keepalive,9min50sec,0"}, {**ours, "timer": "keepalive,9min40sec,0"}) != []
    assert compare({"timer": "unknown,030ms,0"}, {"timer": "delack,040ms,0"}, {}) == []
    assert compare({"rtt": "0.05/0.02"}, {"rtt": "0.05/0.03"}, {"rtt": "0.05/0.03"}) != []
