"""The --info text the table prints from a run's buffer, a field at a time (``diagext.
RunExtensions`` + ``render.extensions.info_cells``), is byte for byte the text of the reference
path: each message decoded alone (``diagext.decode_extensions``) and its line made token by
token (``extension_lines``). On dumps built byte by byte: values that hide a cell (no RTT
sample, no MSS, no ssthresh yet, no pacing limit, no delivery rate) in some sockets of a run
and not others, two algorithms in one run, the ``struct tcp_info`` of older kernels (every
size the struct has had whole fields at), runs without tcp_info (TIME_WAIT), runs of one
message; and on the recorded Linux 6.18 dumps (tests/fixtures/linux/conn-extensions).
"""

from __future__ import annotations

import io
import os
import struct
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from helpers import examples
from pynetstat.linux import diagext
from pynetstat.linux.netlink import DumpStats, Reply, parse_attrs, read_recording
from pynetstat.linux.sockdiag import decode_batches
from pynetstat.linux.tcpinfo import ENDS, OFFSETS, RAW_NAMES, TCP_INFO_FIELDS
from pynetstat.render.extensions import ext_lines_for, extension_lines, info_cells

sys.path.insert(0, os.path.dirname(__file__))
from attack.kernel import NLM_F_MULTI, Sock, diag_message, done_message, nlmsg  # noqa: E402

SEQ = 77
GROUPS = ("tcp_info",)
# Every length at which the struct ends with a whole field, in 8-byte steps: Linux 2.6's 104
# bytes up to 6.18's 280 (a kernel sends its own struct, a prefix of ours); and a newer
# kernel's, longer than the struct we know.
SIZES = sorted({end for end in ENDS if end >= 104 and end % 8 == 0} | {ENDS[-1] + 4})
U32, U64 = (1 << 32) - 1, (1 << 64) - 1


def _value(name: str, ctype: str):
    """A field's values, with the ones that hide or change a cell of the line often drawn."""
    top = {"B": 0xFF, "H": 0xFFFF, "I": U32, "Q": U64}[ctype]
    special = {"rto": [0, 3000000, 201000], "rtt": [0, 31, 1500], "rttvar": [0, 15],
               "snd_mss": [0, 32768], "snd_ssthresh": [7, 0xFFFE, 0xFFFF, 0x7FFFFFFF],
               "pacing_rate": [0, U64, 1 << 50, 125000], "delivery_rate": [0, 99, 1 << 61],
               "options": [0, 7, 0xFF], "_wscale": [0, 0x77, 0xFF]}.get(name, [0, 1])
    return st.one_of(st.sampled_from(special), st.integers(0, top))


INFO = st.fixed_dictionaries({name: _value(name, ctype) for name, ctype, _u, _d in TCP_INFO_FIELDS})


def tcp_info(values: dict, size: int) -> bytes:
    """The struct's first ``size`` bytes (its fields at their C offsets, host order)."""
    raw = bytearray(max(size, ENDS[-1]))
    for i, (name, ctype, _unit, _doc) in enumerate(TCP_INFO_FIELDS):
        struct.pack_into("=" + ctype, raw, OFFSETS[i], values[name])
    return bytes(raw[:size])


def attr(kind: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), kind) + payload + bytes(-len(payload) % 4)


def message(i: int, info: bytes | None, congestion: bytes | None) -> bytes:
    """A TCP socket's message: inet_diag_msg, then INFO and CONG (as the kernel orders them)."""
    sock = Sock("tcp", 4, 1 + i % 11, "127.0.0.1", 1024 + i, "127.0.0.2", 40000 + i,
                inode=9000 + i, cookie=5000 + i)
    attrs = b""
    if info is not None:
        attrs += attr(diagext.INET_DIAG_INFO, info)
    if congestion is not None:
        attrs += attr(diagext.INET_DIAG_CONG, congestion + b"\0")
    return nlmsg(20, NLM_F_MULTI, SEQ, diag_message(sock, SEQ)[16:] + attrs)


def reference(chunks: list[bytes], numeric: bool) -> list[str]:
    """The text under each socket's row, every message decoded alone."""
    out = []
    for chunk in chunks:
        off = 0
        while off < len(chunk):
            length, mtype = struct.unpack_from("=IH", chunk, off)
            if mtype == 20:
                found = parse_attrs(chunk, off + 88, off + length)
                ext = diagext.decode_extensions({k: chunk[a : a + n] for k, (a, n) in found.items()})
                out.append("".join(line + "\n" for line in extension_lines(ext, GROUPS, numeric)))
            off += length
    return out


def table_texts(chunks: list[bytes], numeric: bool) -> tuple[list[str], int]:
    """What the text table is given (``ext_lines_for``) for each batch of the dump, made into
    the text under each row; and how many sockets came by the buffer's columns."""
    lines = ext_lines_for(GROUPS, numeric)
    out, by_columns = [], 0
    for batch in decode_batches(Reply(SEQ, iter(chunks)), "tcp", 4, DumpStats(), extensions=True):
        if isinstance(batch.extensions, diagext.RunExtensions) and \
                batch.extensions.info_columns(("rtt",)) not in (None, {}) and \
                info_cells(batch.extensions, numeric) is not None:
            by_columns += len(batch)
        template, columns = lines(batch)
        out += [template % row for row in zip(*columns)] if columns else [""] * len(batch)
    return out, by_columns


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=st.lists(st.tuples(st.sampled_from(SIZES + [None]), st.lists(
    st.tuples(INFO, st.sampled_from([b"cubic", b"vegas"])), min_size=1, max_size=6)),
    min_size=1, max_size=3), numeric=st.booleans())
def test_the_column_text_equals_the_message_by_message_text(runs, numeric):
    """Runs of sockets of one struct size (``None``: no tcp_info, as a TIME_WAIT socket's
    messages), one after another in one buffer, then cut over two buffers."""
    msgs = [message(i, None if size is None else tcp_info(values, size), congestion)
            for size, sockets in runs for i, (values, congestion) in enumerate(sockets)]
    whole = [b"".join(msgs) + done_message(SEQ)]
    cut = [b"".join(msgs[: len(msgs) // 2]), b"".join(msgs[len(msgs) // 2 :]) + done_message(SEQ)]
    for chunks in (whole, cut):
        got, _ = table_texts(chunks, numeric)
        assert got == reference(chunks, numeric)


def test_a_full_struct_run_takes_the_column_path():
    """The property above holds on the column path, not only on its fallbacks: a run of
    full structs with every cell shown is read from the buffer."""
    values = {name: 3 for name in RAW_NAMES} | {"snd_ssthresh": 0xFFFF, "_wscale": 0x77}
    chunks = [b"".join(message(i, tcp_info(values, size), b"cubic") for i in range(5))
              + done_message(SEQ) for size in (SIZES[-2], SIZES[-1])]
    for chunk in chunks:
        got, by_columns = table_texts([chunk], True)
        assert by_columns == 5 and got == reference([chunk], True)
        assert got[0] == ("    ts sack cubic rto:0.003 rtt:0.003/0.003 mss:3 cwnd:3 bytes_sent:3 "
                          "bytes_acked:3 bytes_received:3 segs_out:3 segs_in:3 lastsnd:3 lastrcv:3 "
                          "lastack:3 pacing_rate 24bps delivery_rate 24bps retrans:3/3 lost:3\n")


@pytest.mark.skipif(sys.byteorder != "little", reason="little-endian recordings")
@pytest.mark.parametrize("name", ["sock_diag-tcp-ext.nl", "sock_diag-tcp6-ext.nl"])
@pytest.mark.parametrize("numeric", [True, False])
def test_the_recorded_dumps_give_the_same_text_both_ways(name, numeric):
    path = os.path.join(FIXTURES, "linux", "conn-extensions", "netlink", name)
    with open(path, "rb") as f:
        seq, chunks = read_recording(f.read())
    family = 6 if "tcp6" in name else 4
    lines = ext_lines_for(GROUPS, numeric)
    got, want = [], []
    for batch in decode_batches(Reply(seq, iter(chunks)), "tcp", family, DumpStats(),
                                extensions=True):
        template, columns = lines(batch)
        got += [template % row for row in zip(*columns)] if columns else [""] * len(batch)
        v4 = family == 4
        want += ["".join(line + "\n" for line in extension_lines(
            ext, GROUPS, numeric, v4 or remote.startswith("::ffff:")))
            for ext, remote in zip(tuple(batch.extensions), batch.remote_address)]
    assert got == want and any(got)


def test_the_table_prints_the_column_text_under_its_rows():
    """Through the table: rows and their lines in order, with and without the column path
    (the row-by-row lines of a batch whose records were made first)."""
    from pynetstat.cli import parse_args
    from pynetstat.render.table import ConnectionTable

    values = {name: 5 for name in RAW_NAMES}
    chunks = [b"".join(message(i, tcp_info(values, SIZES[-1]), b"cubic") for i in range(4))
              + b"".join(message(9 + i, None, None) for i in range(2)) + done_message(SEQ)]
    opts = parse_args(["-an", "--info"])

    def text(make_records: bool) -> str:
        out = io.StringIO()
        table = ConnectionTable(out, opts, None, str, None, ext_lines_for(GROUPS, True))
        batches = list(decode_batches(Reply(SEQ, iter(chunks)), "tcp", 4, DumpStats(),
                                      extensions=True))
        if make_records:
            for batch in batches:
                batch.extensions = tuple(batch.extensions)
        table.write_batches(batches)
        table.close()
        return out.getvalue()

    lines = text(False).splitlines()
    assert text(True).splitlines() == lines
    rows = [i for i, line in enumerate(lines) if line.startswith("  TCP")]
    assert len(rows) == 6 and all(lines[i + 1].startswith("    ") for i in rows[:4])
    assert rows[4] + 1 == rows[5] and rows[5] + 1 == len(lines)  # no line under TIME_WAIT rows
