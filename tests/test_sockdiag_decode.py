"""The column decoder of sock_diag dumps (linux/sockdiag.py) on messages built byte by byte.

Each case encodes sockets with tests/attack/kernel.py's encoder (``struct.pack`` of the kernel's
layouts, written independently of the decoder) and checks every field of every record, in the
cases the decoder treats apart: cookies whose high halves are 0, one other value, or differ
within a run; NLM_F_DUMP_INTR on one message of a run; a message of another family, sequence
number or length in the middle of a run; a message whose length is not a multiple of 4; runs
split over several receive buffers.
"""

from __future__ import annotations

import os
import struct
import sys

import pytest

from pynetstat.errors import BackendUnavailable
from pynetstat.linux.netlink import DumpStats, Reply
from pynetstat.linux.sockdiag import decode_batches

sys.path.insert(0, os.path.dirname(__file__))
from attack.kernel import (  # noqa: E402  (the independent encoder)
    NLM_F_DUMP_INTR,
    NLM_F_MULTI,
    Sock,
    diag_message,
    done_message,
    nlmsg,
)

SEQ = 4242


def _sockets(family: int, n: int, cookie=lambda i: 1000 + i) -> list[Sock]:
    local = "127.0.0.1" if family == 4 else "2001:db8::17"
    remote = "127.0.1.9" if family == 4 else "fe80::1"
    return [Sock("tcp", family, 1 + i % 11, local, 1024 + 7 * i, remote, 65535 - i,
                 inode=50000 + i, uid=1000 + i % 3, cookie=cookie(i), recv_q=i, send_q=2 * i,
                 ifindex=i % 4) for i in range(n)]


def _decode(chunks: list[bytes], family: int, stats: DumpStats | None = None):
    stats = stats or DumpStats()
    batches = list(decode_batches(Reply(SEQ, iter(chunks)), "tcp", family, stats))
    return [s for b in batches for s in b.sockets()], batches, stats


def _check(records, sockets: list[Sock]) -> None:
    assert [(r.state, r.local_address, r.local_port, r.remote_address, r.remote_port, r.scope,
             r.inode, r.uid, r.cookie, r.recv_q, r.send_q) for r in records] == [
        (s.state, s.local, s.lport, s.remote, s.rport, s.ifindex, s.inode, s.uid, s.cookie,
         s.recv_q, s.send_q) for s in sockets]


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("cookies", [
    pytest.param(lambda i: 1 + i, id="high-half-0"),
    pytest.param(lambda i: (7 << 32) + i, id="one-high-half"),
    pytest.param(lambda i: ((i % 3) << 32) + 0xFFFFFFF0 + i, id="high-halves-differ"),
    pytest.param(lambda i: 2**64 - 1 - i, id="top-of-range"),
])
def test_run_fields_and_cookies(family, cookies):
    sockets = _sockets(family, 40, cookies)
    records, batches, stats = _decode([b"".join(diag_message(s, SEQ) for s in sockets)
                                       + done_message(SEQ)], family)
    _check(records, sockets)
    assert len(batches) == 1 and stats.messages == 40 and not stats.interrupted


def test_dump_interrupted_on_one_message():
    sockets = _sockets(4, 9)
    msgs = [diag_message(s, SEQ, NLM_F_MULTI | (NLM_F_DUMP_INTR if i == 4 else 0))
            for i, s in enumerate(sockets)]
    records, batches, stats = _decode([b"".join(msgs) + done_message(SEQ)], 4)
    _check(records, sockets)
    assert stats.interrupted and len(batches) == 1  # the flags may differ within a run


@pytest.mark.parametrize("odd", ["family", "seq", "longer"])
def test_odd_message_in_a_run(odd):
    """A run ends at the first message that is not like the others; what follows is decoded."""
    sockets = _sockets(4, 7)
    msgs = [diag_message(s, SEQ) for s in sockets]
    if odd == "family":  # an IPv6 message in an IPv4 dump: dropped and counted
        msgs[3] = diag_message(_sockets(6, 4)[3], SEQ)
    elif odd == "seq":  # a stale reply's message: skipped and counted as foreign
        msgs[3] = diag_message(sockets[3], SEQ + 1)
    else:  # a message with 8 bytes of attributes: a run of its own
        msgs[3] = nlmsg(20, NLM_F_MULTI, SEQ, diag_message(sockets[3], SEQ)[16:] + struct.pack("=HH4s", 8, 99, b"abcd"))
    records, batches, stats = _decode([b"".join(msgs) + done_message(SEQ)], 4)
    if odd == "longer":
        _check(records, sockets)
        assert [len(b) for b in batches] == [3, 1, 3]
    else:
        _check(records, sockets[:3] + sockets[4:])
        assert (stats.malformed, stats.foreign) == ((1, 0) if odd == "family" else (0, 1))


def test_unaligned_message():
    """A message whose length is not a multiple of 4 (no kernel sends one) is decoded alone and
    the next one is read at the next 4-byte boundary."""
    sockets = _sockets(4, 3)
    body = diag_message(sockets[1], SEQ)[16:] + b"\x01\x02"  # 74 bytes of payload
    odd = nlmsg(20, NLM_F_MULTI, SEQ, body)
    assert struct.unpack_from("=I", odd)[0] == 90
    odd = odd[:90] + b"\0\0"  # NLMSG_ALIGN padding
    records, _, stats = _decode([diag_message(sockets[0], SEQ) + odd + diag_message(sockets[2], SEQ)
                                 + done_message(SEQ)], 4)
    _check(records, sockets)
    assert stats.malformed == 0


def test_runs_across_buffers():
    sockets = _sockets(6, 25)
    msgs = [diag_message(s, SEQ) for s in sockets]
    chunks = [b"".join(msgs[i : i + 10]) for i in range(0, 25, 10)] + [done_message(SEQ)]
    records, batches, _ = _decode(chunks, 6)
    _check(records, sockets)
    assert [len(b) for b in batches] == [10, 10, 5]


def test_no_done_is_an_incomplete_dump():
    with pytest.raises(BackendUnavailable, match="without NLMSG_DONE"):
        _decode([b"".join(diag_message(s, SEQ) for s in _sockets(4, 3))], 4)
