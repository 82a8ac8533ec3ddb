"""sock_diag dumps are in the host's byte order. The recorded dumps (a little-endian kernel) are
replayed as written and as a kernel of the other byte order would have written them: both decode
to the same sockets, and the end of the dump and NLM_F_DUMP_INTR are found either way."""

from __future__ import annotations

import os
import struct
import sys

import pytest

from pynetstat.errors import BackendUnavailable
from pynetstat.linux.netlink import NLM_F_DUMP_INTR, DumpStats, Reply, read_recording
from pynetstat.linux.sockdiag import SOCK_DIAG_BY_FAMILY, decode_batches

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "linux")
RECORDED = "little"  # the recording host's order (tests/fixtures/linux/*/README.md)
OTHER = "big"
KINDS = (("tcp", 4), ("tcp", 6), ("udp", 4), ("udp", 6))
# inet_diag_msg (include/uapi/linux/inet_diag.h) after the 16-byte nlmsghdr: the host-order u32
# fields (if, cookie[2], expires, rqueue, wqueue, uid, inode); the ports and addresses are bytes
# in network order, the first four fields single bytes.
_HOST_WORDS = (56, 60, 64, 68, 72, 76, 80, 84)


def other_order(chunk: bytes, mark_intr: bool = False) -> bytes:
    """The buffer as a kernel of the other byte order writes it."""
    src, dst = struct.Struct("<IHHII"), struct.Struct(">IHHII")
    out = bytearray(chunk)
    off = 0
    while off + 16 <= len(chunk):
        length, mtype, flags, seq, pid = src.unpack_from(chunk, off)
        if mark_intr:
            flags |= NLM_F_DUMP_INTR
        dst.pack_into(out, off, length, mtype, flags, seq, pid)
        if mtype == SOCK_DIAG_BY_FAMILY and length >= 88:
            for at in _HOST_WORDS:
                out[off + at : off + at + 4] = chunk[off + at : off + at + 4][::-1]
        elif mtype in (2, 3) and length >= 20:  # NLMSG_ERROR, NLMSG_DONE: an int error
            out[off + 16 : off + 20] = chunk[off + 16 : off + 20][::-1]
        if length < 16:
            break
        off += (length + 3) & ~3
    return bytes(out)


def decode(seq: int, chunks: list[bytes], proto: str, family: int, byteorder: str):
    stats = DumpStats()
    sockets, ended = [], "NLMSG_DONE"
    try:
        for batch in decode_batches(Reply(seq, iter(chunks)), proto, family, stats,
                                    byteorder=byteorder):
            sockets += batch.sockets()
    except BackendUnavailable as e:
        ended = str(e)
    return sockets, ended, (stats.messages, stats.malformed, stats.foreign, stats.interrupted)


def recordings():
    for scenario in sorted(os.listdir(FIXTURES)):
        for proto, family in KINDS:
            name = f"sock_diag-{proto}{'6' if family == 6 else ''}.nl"
            path = os.path.join(FIXTURES, scenario, "netlink", name)
            if scenario.startswith("conn-") and os.path.exists(path):
                yield pytest.param(path, proto, family, id=f"{scenario}/{name}")


@pytest.mark.skipif(sys.byteorder != RECORDED, reason="the recordings are little-endian")
@pytest.mark.parametrize(("path", "proto", "family"), list(recordings()))
@pytest.mark.parametrize("intr", [False, True], ids=["plain", "dump-intr"])
def test_a_dump_decodes_the_same_in_either_byte_order(path, proto, family, intr):
    with open(path, "rb") as f:
        seq, chunks = read_recording(f.read(), path)
    if intr:  # NLM_F_DUMP_INTR on every message: the u16 flags' byte moves with the order
        chunks = [other_order(other_order(c, mark_intr=True)) for c in chunks]
    want = decode(seq, chunks, proto, family, RECORDED)
    got = decode(seq, [other_order(c) for c in chunks], proto, family, OTHER)
    assert got == want
    # conn-extensions recorded TCP sockets only: its UDP dumps are empty
    assert want[0] or "truncated" in path or "missing" in path or "extensions" in path
    assert want[2][3] == intr or not want[0]
