"""TCP and UDP sockets from NETLINK_SOCK_DIAG (``inet_diag_req_v2`` / ``inet_diag_msg``).

Layouts, from ``include/uapi/linux/inet_diag.h``::

    struct inet_diag_sockid { __be16 sport, dport; __be32 src[4], dst[4]; __u32 if; __u32 cookie[2]; }  # 48 bytes
    struct inet_diag_req_v2 { u8 family, protocol, ext, pad; u32 states; struct inet_diag_sockid id; }  # 56
    struct inet_diag_msg    { u8 family, state, timer, retrans; struct inet_diag_sockid id;
                              u32 expires, rqueue, wqueue, uid, inode; }                                # 72

Ports are big-endian, everything else host order. The cookie is two u32 halves, low half first.
"""

from __future__ import annotations

import struct
import sys
from _socket import AF_INET, AF_INET6, inet_ntop

from pynetstat.errors import BackendUnavailable
from pynetstat.linux.netlink import (
    NETLINK_SOCK_DIAG,
    NLM_F_DUMP_INTR,
    NLMSG_HDRLEN,
    DumpDone,
    DumpStats,
    Request,
    control_message,
)
from pynetstat.model.sockets import InetSocket, SocketBatch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

SOCK_DIAG_BY_FAMILY = 20
IPPROTO_TCP = 6
IPPROTO_UDP = 17

_REQ = struct.Struct("=BBBBI HH16s16sI II")
# nlmsg payload: family, state, timer, retrans, sport, dport, src, dst, if, cookie lo, cookie hi,
# expires, rqueue, wqueue, uid, inode
_MSG = struct.Struct("=BBBB HH16s16sI II IIIII")
MSG_SIZE = _MSG.size  # 72
_HEAD_MSG = struct.Struct("=IHHII BBBB HH16s16sI II IIIII")  # nlmsghdr + inet_diag_msg, 88 bytes

ALL_STATES = 0xFFFFFFFF & ~(1 << 13)  # every state but BOUND_INACTIVE (bound, never listened)


def build_request(family: int, protocol: int, states: int = ALL_STATES, ext: int = 0) -> Request:
    """A dump request for one family (4 or 6) and protocol ("tcp" or "udp")."""
    af = AF_INET if family == 4 else AF_INET6
    ipproto = IPPROTO_TCP if protocol == "tcp" else IPPROTO_UDP
    payload = _REQ.pack(af, ipproto, ext, 0, states, 0, 0, b"", b"", 0, 0xFFFFFFFF, 0xFFFFFFFF)
    key = f"sock_diag-{protocol}{'6' if family == 6 else ''}"
    return Request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, payload, key)


class _Names(dict):
    """Address field -> text, computed on first sight (``inet_ntop``) and kept: on a busy host a
    few addresses repeat a lot. IPv4 keys are the u32 as read in host order, IPv6 keys the 16 raw
    bytes."""

    __slots__ = ("af",)

    def __init__(self, af: int):
        super().__init__()
        self.af = af

    def __missing__(self, key: int | bytes) -> str:
        raw = _U32.pack(key) if self.af == AF_INET else key
        text = self[key] = inet_ntop(self.af, raw)
        return text


_U32 = struct.Struct("=I")


class AddressCache:
    """The address-text caches of one run, shared across dumps."""

    __slots__ = ("v4", "v6")

    def __init__(self) -> None:
        self.v4 = _Names(AF_INET)
        self.v6 = _Names(AF_INET6)


# A run of messages of one length L is read by two structs over the same bytes: one for the
# host-order fields (padded to L; fields no view uses are skipped, which saves an object per
# socket), one for the two big-endian ports. An IPv4 address is read as one u32 (cheaper to make
# and to hash than 16 bytes). The cookie is two u32 halves, low half first: on a little-endian
# host exactly a native u64.
_LITTLE = sys.byteorder == "little"
_COOKIE = "Q" if _LITTLE else "II"
_ADDR = {4: "I12x I12x", 6: "16s16s"}
_PORTS_AT = NLMSG_HDRLEN + 4  # after nlmsghdr and family/state/timer/retrans
_PEEK = struct.Struct("=IHHI")
_run_structs: dict[tuple[int, int], tuple[struct.Struct, struct.Struct]] = {}
# Field positions in a run tuple: len, type, flags, seq, family, state, src, dst, ifindex,
# cookie (1 or 2 items), then from the end: rqueue -4, wqueue -3, uid -2, inode -1.
_F_LEN, _F_TYPE, _F_FLAGS, _F_SEQ, _F_AF, _F_STATE, _F_SRC, _F_DST, _F_IF, _F_COOKIE = range(10)


def _structs_for(length: int, family: int) -> tuple[struct.Struct, struct.Struct]:
    pair = _run_structs.get((length, family))
    if pair is None:
        body = f"=IHHI4x BB2x4x {_ADDR[family]} I {_COOKIE} 4xIIII"
        fields = struct.Struct(f"{body} {length - NLMSG_HDRLEN - MSG_SIZE}x")
        ports = struct.Struct(f"!{_PORTS_AT}xHH{length - _PORTS_AT - 4}x")
        pair = _run_structs[(length, family)] = (fields, ports)
    return pair


def _valid_prefix(cols: list[tuple], length: int, seq: int, af: int) -> int:
    """How many leading messages of a run are socket messages of this dump and length."""
    lengths, types, seqs, afs = cols[_F_LEN], cols[_F_TYPE], cols[_F_SEQ], cols[_F_AF]
    n = len(lengths)
    if (lengths.count(length) == n and types.count(SOCK_DIAG_BY_FAMILY) == n
            and seqs.count(seq) == n and afs.count(af) == n):
        return n
    for i in range(n):  # rare: a message of another length, type or family ends the run here
        if lengths[i] != length or types[i] != SOCK_DIAG_BY_FAMILY or seqs[i] != seq or afs[i] != af:
            return i
    return n


def decode_batches(reply, protocol: str, family: int, stats: DumpStats,
                   cache: AddressCache | None = None) -> Iterator[SocketBatch]:
    """Decode a sock_diag dump into column batches, in kernel order.

    The kernel sends sockets of one kind as messages of one length, so each run of equal-length
    messages is unpacked by ``Struct.iter_unpack`` and transposed by ``zip`` (C loops, not a
    Python loop per socket). Whatever is not a socket message of this dump goes through
    ``netlink.control_message``: ``NLMSG_DONE`` ends the dump, an error reply raises
    ``NetlinkError``, impossible lengths are counted and the rest of that buffer dropped.
    """
    if cache is None:
        cache = AddressCache()
    if family == 4:
        names, af = cache.v4, AF_INET
    else:
        names, af = cache.v6, AF_INET6
    seq = reply.seq
    what = f"sock_diag {protocol}{'6' if family == 6 else ''}"
    peek = _PEEK.unpack_from
    malformed = stats.malformed
    try:
        for chunk in reply.chunks:
            view = memoryview(chunk)
            end = len(chunk)
            off = 0
            while off < end:
                if off + _HEAD_MSG.size <= end:
                    length, mtype, _flags, mseq = peek(chunk, off)
                    if (mtype == SOCK_DIAG_BY_FAMILY and mseq == seq and off + length <= end
                            and length >= _HEAD_MSG.size):
                        # A run: as many messages of this length as fit; one if it is unaligned.
                        count = (end - off) // length if length % 4 == 0 else 1
                        fields, ports = _structs_for(length, family)
                        part = view[off : off + count * length]
                        cols = list(zip(*fields.iter_unpack(part)))
                        good = _valid_prefix(cols, length, seq, af)
                        if good:
                            if good < count:
                                cols = [c[:good] for c in cols]
                                part = part[: good * length]
                            off += good * length if good > 1 or length % 4 == 0 else (length + 3) & ~3
                            stats.messages += good
                            yield _batch(protocol, family, cols, ports.iter_unpack(part), names, stats)
                            continue
                off = control_message(chunk, off, seq, stats, what, SOCK_DIAG_BY_FAMILY)
                if off < 0:
                    break
    except DumpDone:
        return
    if stats.malformed == malformed:
        # No NLMSG_DONE, and no cut message that was counted: the reply stopped between two
        # messages (or held none), so nothing says what is missing. Say the dump is incomplete.
        raise BackendUnavailable(f"{what}: the dump ended without NLMSG_DONE")


def _batch(protocol: str, family: int, cols: list[tuple], port_rows, names: _Names,
           stats: DumpStats) -> SocketBatch:
    if any(flags & NLM_F_DUMP_INTR for flags in set(cols[_F_FLAGS])):
        stats.interrupted = True  # the table changed while it was dumped
    sport, dport = zip(*port_rows)
    get = names.__getitem__
    if _LITTLE:
        cookie = cols[_F_COOKIE]
    else:
        cookie = tuple(lo | (hi << 32) for lo, hi in zip(cols[_F_COOKIE], cols[_F_COOKIE + 1]))
    return SocketBatch(protocol, family, cols[_F_STATE], tuple(map(get, cols[_F_SRC])), sport,
                       tuple(map(get, cols[_F_DST])), dport, cols[_F_IF], cols[-1], cols[-2],
                       cookie, cols[-4], cols[-3])


def decode_dump(reply, protocol: str, family: int, stats: DumpStats,
                cache: AddressCache | None = None) -> Iterator[InetSocket]:
    """The same dump, one ``InetSocket`` at a time."""
    for batch in decode_batches(reply, protocol, family, stats, cache):
        yield from batch.sockets()
