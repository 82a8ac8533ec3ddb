"""The column reader of tcp_info (linux/tcpinfo_runs.py) gives, field by field, what the
one-message decoder gives: on the recorded Linux 6.18 dumps (tests/fixtures/linux/conn-extensions)
and on hand-made runs (a shorter tcp_info, a run whose attribute layout differs)."""

from __future__ import annotations

import os
import struct
import sys

import pytest

from conftest import FIXTURES
from pynetstat.linux.diagext import INET_DIAG_INFO
from pynetstat.linux.netlink import parse_attrs, read_recording
from pynetstat.linux.tcpinfo import FIELD_NAMES, decode_tcp_info
from pynetstat.linux.tcpinfo_runs import info_columns, info_runs

HERE = os.path.join(FIXTURES, "linux", "conn-extensions")
pytestmark = pytest.mark.skipif(sys.byteorder != "little", reason="little-endian recordings")
MSG = 72  # struct inet_diag_msg


def info_at(chunk: bytes, off: int, length: int) -> tuple[int, int] | None:
    return parse_attrs(chunk, off + 16 + MSG, off + length).get(INET_DIAG_INFO)


def per_message(chunk: bytes, off: int, length: int, count: int) -> dict[str, list]:
    infos = []
    for i in range(count):
        at, size = info_at(chunk, off + i * length, length)
        infos.append(decode_tcp_info(chunk[at : at + size]))
    return {name: [getattr(info, name) for info in infos] for name in FIELD_NAMES}


@pytest.mark.parametrize("name", ["sock_diag-tcp-ext.nl", "sock_diag-tcp6-ext.nl"])
def test_columns_of_the_recorded_runs_equal_the_per_message_decoding(name):
    with open(os.path.join(HERE, "netlink", name), "rb") as f:
        seq, chunks = read_recording(f.read())
    compared = 0
    for chunk in chunks:
        for off, length, count, found in info_runs(chunk, seq):
            assert found == info_at(chunk, off, length)
            if found is None:
                continue  # the bound socket: no tcp_info
            columns = info_columns(chunk, found[0], count, length, found[1], FIELD_NAMES)
            assert {name: list(values) for name, values in columns.items()} == \
                per_message(chunk, off, length, count)
            compared += count
    assert compared >= 3


def test_runs_are_split_where_the_length_changes():
    payloads = [bytes(104), bytes(104), bytes(112)]
    buf = synthetic(payloads[:2]) + synthetic(payloads[2:]) + struct.pack("=IHHIIi", 20, 3, 2, 1, 0, 0)
    assert [(off, length, count) for off, length, count, _info in info_runs(buf, 1)] == [
        (0, 196, 2), (392, 204, 1)]
    assert [info for *_rest, info in info_runs(buf, 1)] == [(92, 104), (392 + 92, 112)]
    assert list(info_runs(buf, 2)) == []  # another dump's sequence number


def synthetic(payloads: list[bytes], headers: list[bytes] | None = None) -> bytes:
    """Messages of one length: nlmsghdr, a zero inet_diag_msg, the INFO attribute."""
    out = b""
    for i, payload in enumerate(payloads):
        attr = (headers[i] if headers else struct.pack("=HH", 4 + len(payload), INET_DIAG_INFO)) + payload
        out += struct.pack("=IHHII", 16 + MSG + len(attr), 20, 2, 1, 0) + bytes(MSG) + attr
    return out


def test_a_short_tcp_info_gives_none_for_the_fields_it_lacks():
    payloads = [struct.pack("=8B24I", 1, 0, 0, 0, 0, 7, 0x97, 1, *range(i, i + 24)) for i in range(3)]
    buf = synthetic(payloads)
    step = len(buf) // 3
    columns = info_columns(buf, 16 + MSG + 4, 3, step, 104, ("rtt", "snd_wscale", "rcv_wscale",
                                                                "bytes_acked", "total_retrans"))
    columns = {name: list(values) for name, values in columns.items()}
    assert columns["rtt"] == [p + 15 for p in range(3)]  # the 16th u32, at byte 68
    assert columns["snd_wscale"] == [7] * 3 and columns["rcv_wscale"] == [9] * 3
    assert columns["bytes_acked"] == [None] * 3
    assert columns == {n: [getattr(decode_tcp_info(p), n) for p in payloads] for n in columns}


def test_a_run_whose_attribute_layout_differs_has_no_columns():
    payloads = [bytes(104)] * 2
    headers = [struct.pack("=HH", 108, INET_DIAG_INFO), struct.pack("=HH", 108, 19)]  # ULP_INFO
    assert info_columns(synthetic(payloads, headers), 16 + MSG + 4, 2, 16 + MSG + 108, 104, ("rtt",)) is None


def test_u64_fields_above_four_billion():
    big = (5 << 32) + 7
    payload = struct.pack("=8B24I4Q", *bytes(8), *range(24), big, 1, 2, 3)
    buf = synthetic([payload, payload])
    columns = info_columns(buf, 16 + MSG + 4, 2, len(buf) // 2, len(payload), ("pacing_rate", "max_pacing_rate"))
    columns = {name: list(values) for name, values in columns.items()}
    assert columns == {"pacing_rate": [big, big], "max_pacing_rate": [1, 1]}


@pytest.mark.parametrize("differs", [None, 0, 1, 2, 3])
def test_a_field_the_same_in_every_message_but_one_byte(differs):
    """A field the same in every message of the run, or different in one byte of the last
    message's (any byte of four): each message's value. (A shortcut that read a field once when
    its low byte was the same in every message failed here; it was measured no faster at 200k
    sockets and not kept.)"""
    rtts = [0x11223344] * 4
    if differs is not None:
        rtts[-1] ^= 0xFF << (8 * differs)
    payloads = [struct.pack("=8B24I", *bytes(8), *([0] * 15 + [rtt] + [9] * 8)) for rtt in rtts]
    buf = synthetic(payloads)
    columns = info_columns(buf, 16 + MSG + 4, 4, len(buf) // 4, 104, ("rtt", "rttvar", "rto"))
    assert {name: list(values) for name, values in columns.items()} == {
        "rtt": rtts, "rttvar": [9] * 4, "rto": [0] * 4}


@pytest.mark.parametrize("name", ["sock_diag-tcp-ext.nl", "sock_diag-tcp6-ext.nl"])
def test_a_runs_columns_are_read_once_and_kept(name):
    """Interval mode's rates read two counts with the --info line's fields (``more``); the line
    then reads the kept columns. Every combination gives the per-message decoding's values."""
    from pynetstat.linux.diagext import run_extensions

    with open(os.path.join(HERE, "netlink", name), "rb") as f:
        seq, chunks = read_recording(f.read())
    compared = 0
    for chunk in chunks:
        for off, length, count, found in info_runs(chunk, seq):
            if found is None or count < 2:
                continue
            attrs = parse_attrs(chunk, off + 16 + MSG, off + length)
            run = run_extensions(chunk, off, count, length, off + 16 + MSG, attrs,
                                 bytes(count), [0] * count, bytes(count))
            assert run is not None
            expected = per_message(chunk, off, length, count)
            counts = run.info_columns(("bytes_acked", "bytes_received"), ("rtt", "lost"))
            assert {k: list(v) for k, v in counts.items()} == {
                k: expected[k] for k in ("bytes_acked", "bytes_received")}
            line = run.info_columns(("rtt", "bytes_acked", "lost", "snd_cwnd"))
            assert list(line) == ["rtt", "bytes_acked", "lost", "snd_cwnd"]
            assert {k: list(v) for k, v in line.items()} == {
                k: expected[k] for k in ("rtt", "bytes_acked", "lost", "snd_cwnd")}
            assert line["bytes_acked"] is counts["bytes_acked"]  # kept, not read again
            assert run.info_columns(("rtt",))["rtt"] is line["rtt"]
            compared += count
    assert compared >= 2
