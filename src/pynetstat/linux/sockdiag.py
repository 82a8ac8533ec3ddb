"""TCP and UDP sockets from NETLINK_SOCK_DIAG (``inet_diag_req_v2`` / ``inet_diag_msg``).

Layouts, from ``include/uapi/linux/inet_diag.h``::

    struct inet_diag_sockid { __be16 sport, dport; __be32 src[4], dst[4]; __u32 if; __u32 cookie[2]; }  # 48 bytes
    struct inet_diag_req_v2 { u8 family, protocol, ext, pad; u32 states; struct inet_diag_sockid id; }  # 56
    struct inet_diag_msg    { u8 family, state, timer, retrans; struct inet_diag_sockid id;
                              u32 expires, rqueue, wqueue, uid, inode; }                                # 72

Ports are big-endian, everything else host order. The cookie is two u32 halves, low half first.

TCP of both families in one dump: the old request ``TCPDIAG_GETSOCK`` (18) takes ``struct
inet_diag_req`` (the v1 layout: family, src_len, dst_len, ext, sockid, states, dbs; 60 bytes).
``inet_diag_dump_compat`` (net/ipv4/inet_diag.c) turns it into an ``inet_diag_req_v2`` of family
``AF_UNSPEC`` with the request's ext, states and sockid, and a bytecode attribute after it is
audited and run as for the v2 request (``inet_diag_dump_start_compat``); the family in the v1
request is ignored. The dump walks the kernel's TCP tables once and answers with the same
``inet_diag_msg`` messages, IPv4 and IPv6 interleaved in table order, each of type 18 (the
kernel copies the request's type into its replies). The per-family dumps walk them once each,
and that walk, over every namespace's sockets, is what a dump costs (docs/netns.md, Speed).
"""

from __future__ import annotations

import struct
import sys
from _socket import AF_INET, AF_INET6, inet_ntop

from pynetstat.errors import BackendUnavailable
from pynetstat.kinds import ALL_STATES, BY_PROTOCOL
from pynetstat.linux.netlink import (
    NETLINK_SOCK_DIAG,
    NLM_F_DUMP_INTR,
    NLMSG_HDRLEN,
    RTATTR,
    DumpDone,
    DumpStats,
    Request,
    control_message,
    parse_attrs,
)
from pynetstat.model.sockets import InetSocket, SocketBatch, owner_uids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from pynetstat.kinds import SocketKind
    from pynetstat.linux.diagext import Extensions
    from pynetstat.linux.netlink import Reply

SOCK_DIAG_BY_FAMILY = 20
TCPDIAG_GETSOCK = 18  # include/uapi/linux/inet_diag.h: the compat request, both families at once
# idiag_ext bits ask for attributes after the message: bit (INET_DIAG_X - 1) for INET_DIAG_X
# (include/uapi/linux/inet_diag.h).
INET_DIAG_MEMINFO = 1
INET_DIAG_INFO = 2  # struct tcp_info
INET_DIAG_TOS = 5
INET_DIAG_SKMEMINFO = 7
INET_DIAG_REQ_BYTECODE = 1  # the request's attribute (enum inet_diag_req_attrs)
INET_DIAG_REQ_PROTOCOL = 3  # u32: a protocol above 255 (MPTCP), Linux 5.9+
_U32_ATTR = struct.Struct("=HHI")

_REQ = struct.Struct("=BBBBI HH16s16sI II")
# struct inet_diag_req (v1): family, src_len, dst_len, ext, sockid, states, dbs
_REQ_V1 = struct.Struct("=BBBB HH16s16sI II II")
# nlmsg payload: family, state, timer, retrans, sport, dport, src, dst, if, cookie lo, cookie hi,
# expires, rqueue, wqueue, uid, inode
_MSG = struct.Struct("=BBBB HH16s16sI II IIIII")
MSG_SIZE = _MSG.size  # 72
_HEAD_SIZE = NLMSG_HDRLEN + MSG_SIZE  # 88: a socket message is at least nlmsghdr + inet_diag_msg


def request_for(kind: SocketKind, states: int = ALL_STATES, ext: int = 0,
                bytecode: bytes | None = None) -> Request:
    """The dump request of one kind (kinds.py), for the states in the mask; ``ext`` asks for
    attributes (``1 << (INET_DIAG_INFO - 1)``: tcp_info); ``bytecode`` is a filter program
    (linux/bytecode.py), attached as an ``INET_DIAG_REQ_BYTECODE`` attribute after the request
    (the kernel finds it there, ``nlmsg_find_attr`` in net/ipv4/inet_diag.c).

    The key names the dump in recordings (tests/fixtures/linux/*/netlink/sock_diag-tcp6.nl),
    with or without a program: a recorded dump replays whatever was asked when it was recorded,
    which is why ``select.Selection.select`` checks every socket again.

    A protocol above 255 (MPTCP, 262) does not fit ``sdiag_protocol``: an
    ``INET_DIAG_REQ_PROTOCOL`` attribute names it, and the kernel then reads the attribute alone
    (net/ipv4/inet_diag.c ``inet_diag_get_protocol``). ss and the kernel's selftest put the low
    byte (6, TCP) in the field; we put 0, which no handler serves: a kernel older than the
    attribute (5.9) answers ENOENT instead of dumping its TCP sockets as MPTCP ones."""
    protocol = kind.diag_protocol
    payload = _REQ.pack(kind.diag_family, protocol if protocol <= 255 else 0, ext, 0, states, 0,
                        0, b"", b"", 0, 0xFFFFFFFF, 0xFFFFFFFF)
    if bytecode is not None:
        payload += RTATTR.pack(4 + len(bytecode), INET_DIAG_REQ_BYTECODE) + bytecode
    if protocol > 255:
        payload += _U32_ATTR.pack(8, INET_DIAG_REQ_PROTOCOL, protocol)
    return Request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, payload, f"sock_diag-{kind.name}")


def both_families_request(states: int = ALL_STATES, ext: int = 0,
                          bytecode: bytes | None = None) -> Request:
    """One dump of every TCP socket, IPv4 and IPv6 (``TCPDIAG_GETSOCK``: see the module's
    docstring), for the states in the mask, with the ``ext`` attributes; decode it with
    ``decode_batches(..., family=0, msg_type=TCPDIAG_GETSOCK)``. ``bytecode``: a filter program
    that is the same for both families (ports and states only), attached after the request as
    ``request_for`` does (the compat path audits and runs it: ``inet_diag_dump_start_compat``).
    Key: ``sock_diag-tcp46`` (a recording made before this request existed has none: replay
    answers EOPNOTSUPP, and the caller asks for each family instead)."""
    payload = _REQ_V1.pack(0, 0, 0, ext, 0, 0, b"", b"", 0, 0xFFFFFFFF, 0xFFFFFFFF, states, 0)
    if bytecode is not None:
        payload += RTATTR.pack(4 + len(bytecode), INET_DIAG_REQ_BYTECODE) + bytecode
    return Request(NETLINK_SOCK_DIAG, TCPDIAG_GETSOCK, payload, "sock_diag-tcp46")


def build_request(family: int, protocol: str, states: int = ALL_STATES, ext: int = 0) -> Request:
    """A dump request for one family (4 or 6) and protocol ("tcp" or "udp")."""
    return request_for(BY_PROTOCOL[(protocol, family)], states, ext)


class _Names(dict):  # type: ignore[type-arg]  # dict[int | bytes, str] fails at run time on 3.9
    """Address field -> text, computed on first sight (``inet_ntop``) and kept: on a busy host a
    few addresses repeat a lot. IPv4 keys are the u32 as read in host order, IPv6 keys the 16 raw
    bytes."""

    __slots__ = ("af",)

    def __init__(self, af: int):
        super().__init__()
        self.af = af

    def __missing__(self, key: int | bytes) -> str:
        raw = _U32.pack(key) if self.af == AF_INET else key
        text = self[key] = inet_ntop(self.af, raw)  # type: ignore[arg-type]  # bytes unless AF_INET
        return text


_U32 = struct.Struct("=I")


class AddressCache:
    """The address-text caches of one run, shared across dumps."""

    __slots__ = ("v4", "v6")

    def __init__(self) -> None:
        self.v4 = _Names(AF_INET)
        self.v6 = _Names(AF_INET6)


# A run of messages of one length L is decoded by column: ``bytes[start::L]`` picks one byte of
# every message and ``memoryview.cast("I")[word::L // 4]`` one aligned u32 of every message, both
# in C, so a run of 300 sockets costs a few dozen C calls and no Python loop or tuple per socket.
# Byte offsets in a message (nlmsghdr, then inet_diag_msg):
_AT_FLAGS = 6  # u16, host order
_AT_FAMILY = 16
_AT_STATE = 17
_AT_TIMER = 18  # u8 idiag_timer
_AT_RETRANS = 19  # u8 idiag_retrans
_AT_SPORT = 20  # __be16
_AT_DPORT = 22  # __be16
_AT_SRC = 24  # 16 bytes; an IPv4 address is the first 4
_AT_DST = 40
_AT_IF = 56  # u32
_AT_COOKIE = 60  # two u32, low half first
_AT_EXPIRES = 68  # u32 idiag_expires, ms
_AT_RQUEUE = 72
_AT_WQUEUE = 76
_AT_UID = 80
_AT_INODE = 84
# Header bytes every message of a run must share with the first: length (0-3), type (4-5),
# sequence number (8-11), and the address family byte. The flags (6-7) may differ.
_SAME = (0, 1, 2, 3, 4, 5, 8, 9, 10, 11, _AT_FAMILY)
_v6_structs: dict[int, struct.Struct] = {}
_BE_PORTS: dict[int, struct.Struct] = {}  # messages in a run -> ">{2n}H"


class _Order:
    """What depends on the byte order of the kernel that wrote a dump: a live dump is in this
    host's order; a recording replayed on a host of the other order is not (tests replay the
    recorded dumps both ways)."""

    __slots__ = ("native", "peek", "intr_byte", "name")

    def __init__(self, byteorder: str):
        self.name = byteorder
        self.native = byteorder == sys.byteorder
        # length, type, flags, sequence number
        self.peek = struct.Struct(("<" if byteorder == "little" else ">") + "IHHI").unpack_from
        # where NLM_F_DUMP_INTR (0x10) of the u16 flags lies
        self.intr_byte = _AT_FLAGS if byteorder == "little" else _AT_FLAGS + 1

    def words(self, raw: memoryview) -> memoryview:
        """The run's u32 words as numbers: the bytes themselves in this host's order, else a
        byte-swapped copy."""
        if self.native:
            return raw
        from array import array  # only for a replayed dump of the other order: not at start-up

        swapped = array("I")
        swapped.frombytes(raw.cast("B"))
        swapped.byteswap()
        return memoryview(swapped)


_ORDERS = {order: _Order(order) for order in ("little", "big")}


def _valid_prefix(chunk: bytes, start: int, end: int, length: int, af: int) -> int:
    """How many leading messages of the run ``chunk[start:end]`` (messages of ``length`` bytes)
    are socket messages of this dump: the same length, type and sequence number as the first,
    which the caller checked, and of the dump's family (``af`` 0: of either, see ``_families``)."""
    count = (end - start) // length
    if af and chunk[start + _AT_FAMILY] != af:
        return 0
    good = count
    for at in (_SAME if af else _SAME[:-1]):
        column = chunk[start + at : end : length]
        expected = column[0]
        if column.count(expected) != count:
            # rare: a message of another length, type or family ends the run there
            good = min(good, next(i for i, b in enumerate(column) if b != expected))
    return good


def _families(chunk: bytes, start: int, count: int, step: int
              ) -> list[tuple[int, bytes, int, int]]:
    """A run of a dump of both families as runs of one family each: ``[(af, buffer, start,
    count), ...]``, IPv4 first, and only the leading messages of either family (what follows
    is not a socket message of the dump). The usual run is of one family and is returned as it
    is; a mixed one is copied apart, a message at a time (the kernel's table order interleaves
    families; each family's own order is kept)."""
    end = start + count * step
    column = chunk[start + _AT_FAMILY : end : step]
    v4, v6 = column.count(AF_INET), column.count(AF_INET6)
    if v4 + v6 != count:
        count = next(i for i, af in enumerate(column) if af != AF_INET and af != AF_INET6)
        column = column[:count]
        v4, v6 = column.count(AF_INET), column.count(AF_INET6)
    if not v6 or not v4:
        return [(AF_INET6 if v6 else AF_INET, chunk, start, count)] if count else []
    offsets = range(start, start + count * step, step)
    return [(af, b"".join([chunk[at : at + step] for at, own in zip(offsets, column) if own == af]),
             0, n) for af, n in ((AF_INET, v4), (AF_INET6, v6))]


def _ports(words: memoryview, step: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Source and destination ports: the u32 that holds both, read as two big-endian u16."""
    both = words[_AT_SPORT // 4 :: step]
    ports = _BE_PORTS.get(len(both))
    if ports is None:
        ports = _BE_PORTS[len(both)] = struct.Struct(f">{2 * len(both)}H")
    pairs = ports.unpack(both.tobytes())
    return pairs[0::2], pairs[1::2]


def _cookies(words: memoryview, step: int) -> list[int]:
    """The cookies: two u32 halves each, low half first."""
    low = words[_AT_COOKIE // 4 :: step].tolist()
    high = words[_AT_COOKIE // 4 + 1 :: step]
    first = high[0]
    if high.tobytes() == _U32.pack(first) * len(high):
        # The usual case: one high half for the whole run (0 until 2**32 sockets were made).
        return low if not first else list(map((first << 32).__add__, low))
    # The run crosses a 2**32 boundary of the cookie counter (rare: once per 2**32 sockets).
    return [h << 32 | lo for h, lo in zip(high.tolist(), low)]


def _decode_run(chunk: bytes, start: int, end: int, length: int, protocol: str, family: int,
                names: _Names, stats: DumpStats, order: _Order) -> SocketBatch:
    """The socket messages ``chunk[start:end]``, all ``length`` bytes long (a multiple of 4)."""
    flags = set(chunk[start + order.intr_byte : end : length])
    if any(flag & NLM_F_DUMP_INTR for flag in flags):
        stats.interrupted = True  # the table changed while it was dumped
    # raw: the bytes as u32 words, for addresses and ports (network order, the same on every
    # host); words: the host-order fields as numbers
    raw = memoryview(chunk)[start:end].cast("I")
    words = order.words(raw)
    step = length // 4
    get = names.__getitem__
    if family == 4:
        src = list(map(get, raw[_AT_SRC // 4 :: step].tolist()))
        dst = list(map(get, raw[_AT_DST // 4 :: step].tolist()))
    else:
        pairs = _v6_structs.get(length)
        if pairs is None:
            pairs = _v6_structs[length] = struct.Struct(f"={_AT_SRC}x16s16s{length - _AT_DST - 16}x")
        raw_src, raw_dst = zip(*pairs.iter_unpack(memoryview(chunk)[start:end]))
        src = list(map(get, raw_src))
        dst = list(map(get, raw_dst))
    sport, dport = _ports(raw, step)
    state = list(chunk[start + _AT_STATE : end : length])
    inode = words[_AT_INODE // 4 :: step].tolist()
    return SocketBatch(proto=protocol, family=family, state=state,
                       local_address=src, local_port=sport, remote_address=dst, remote_port=dport,
                       scope=words[_AT_IF // 4 :: step].tolist(), inode=inode,
                       uid=owner_uids(state, inode, words[_AT_UID // 4 :: step].tolist()),
                       cookie=_cookies(words, step),
                       recv_q=words[_AT_RQUEUE // 4 :: step].tolist(),
                       send_q=words[_AT_WQUEUE // 4 :: step].tolist())


def _attributes(chunk: bytes, start: int, count: int, step: int, length: int
                ) -> tuple[dict[int, bytes], ...]:
    """The netlink attributes after each message's ``inet_diag_msg``, one message at a time:
    ``{INET_DIAG_INFO: b"...", ...}`` per socket (payloads as bytes, types as the kernel numbers
    them). ``length`` is each message's own length, ``step`` the distance between messages."""
    out = []
    for at in range(start, start + count * step, step):
        found = parse_attrs(chunk, at + _HEAD_SIZE, at + length)
        out.append({kind: chunk[off : off + size] for kind, (off, size) in found.items()})
    return tuple(out)


def _extensions(chunk: bytes, start: int, count: int, step: int, length: int,
                order: _Order, mptcp: bool = False) -> Sequence[Extensions]:
    """One ``diagext.Extensions`` per message of the run, its ``timer`` from the message's own
    fields (``idiag_timer``, ``idiag_expires``, ``idiag_retrans``): a ``diagext.RunExtensions``
    (read a field at a time, records made only when asked for) when the run's messages share
    one attribute layout, else a tuple decoded one message at a time. Only a view that asked
    for extension fields (--info, --timers, --memory) pays for this."""
    from pynetstat.linux.diagext import decode_extensions, decode_timer, run_extensions

    end = start + count * step
    timers = chunk[start + _AT_TIMER : end : step]
    retrans = chunk[start + _AT_RETRANS : end : step]
    expires = order.words(memoryview(chunk)[start:end].cast("I"))[_AT_EXPIRES // 4 :: step // 4].tolist()
    if order.native:
        # A run at a time, attribute by attribute (see run_extensions): at 18k sockets with
        # INFO+CONG, 0.6 s message by message on a loaded 2-core host; this: measured below.
        found = parse_attrs(chunk, start + _HEAD_SIZE, start + length)
        if count > 1 and found:
            run = run_extensions(chunk, start, count, step, start + _HEAD_SIZE, found,
                                 timers, expires, retrans, mptcp)
            if run is not None:
                return run  # a sequence whose records are made when one is asked for
    out = []
    for i, at in enumerate(range(start, end, step)):
        found = parse_attrs(chunk, at + _HEAD_SIZE, at + length)
        attrs = {kind: chunk[off : off + size] for kind, (off, size) in found.items()}
        out.append(decode_extensions(attrs, decode_timer(timers[i], expires[i], retrans[i]),
                                     mptcp))
    return tuple(out)


def decode_batches(reply: Reply, protocol: str, family: int, stats: DumpStats,
                   cache: AddressCache | None = None, attributes: bool = False,
                   byteorder: str = sys.byteorder, extensions: bool = False,
                   msg_type: int = SOCK_DIAG_BY_FAMILY) -> Iterator[SocketBatch]:
    """Decode a sock_diag dump into column batches, in kernel order.

    The kernel sends sockets of one kind as messages of one length, so each run of equal-length
    messages is decoded a column at a time (see ``_decode_run``). With ``attributes`` (the
    request asked for some: ``ext``), each message's netlink attributes are also read, one
    message at a time, into the batch's ``attributes`` column; a plain listing never pays for
    that walk. With ``extensions``, the batch's ``extensions`` column holds each message's
    attributes decoded (``diagext.Extensions``, with its timer). Whatever is not a socket
    message of this dump goes through ``netlink.control_message``: ``NLMSG_DONE`` ends the dump,
    an error reply raises ``NetlinkError``, impossible lengths are counted and the rest of that
    buffer dropped. ``byteorder`` is that of the kernel that wrote the dump (attributes are read
    in this host's order only).

    ``family`` 0: a dump of both families (``both_families_request``, whose messages are of
    ``msg_type`` ``TCPDIAG_GETSOCK``); each batch is of one family, IPv4 and IPv6 batches in
    the dump's order.
    """
    order = _ORDERS[byteorder]
    mptcp = protocol == "mptcp"  # its INET_DIAG_INFO is struct mptcp_info
    if cache is None:
        cache = AddressCache()
    af = AF_INET if family == 4 else AF_INET6 if family == 6 else 0
    seq = reply.seq
    what = f"sock_diag {protocol}{'6' if family == 6 else '46' if not family else ''}"
    peek = order.peek
    malformed = stats.malformed
    try:
        for chunk in reply.chunks:
            chunk = bytes(chunk)
            end = len(chunk)
            off = 0
            while off < end:
                if off + _HEAD_SIZE <= end:
                    length, mtype, _flags, mseq = peek(chunk, off)
                    if (mtype == msg_type and mseq == seq and off + length <= end
                            and length >= _HEAD_SIZE):
                        if length % 4 == 0:
                            # A run: as many messages of this length as fit.
                            part, start, step = chunk, off, length
                            count = (end - off) // length
                        else:
                            # Unaligned (no kernel sends this): decode this one message alone,
                            # padded to a multiple of 4, and go on at the next aligned offset.
                            step = (length + 3) & ~3
                            part, start, count = chunk[off : off + length] + bytes(step - length), 0, 1
                        good = _valid_prefix(part, start, start + count * step, step, af)
                        runs = ([(af, part, start, good)] if af or not good
                                else _families(part, start, good, step))
                        good = sum(run[3] for run in runs)
                        if good:
                            for run_af, run_part, run_start, n in runs:
                                if run_af == AF_INET:
                                    run_family, run_names = 4, cache.v4
                                else:
                                    run_family, run_names = 6, cache.v6
                                batch = _decode_run(run_part, run_start, run_start + n * step, step,
                                                    protocol, run_family, run_names, stats, order)
                                if attributes:
                                    batch.attributes = _attributes(run_part, run_start, n, step,
                                                                   length)
                                if extensions:
                                    batch.extensions = _extensions(run_part, run_start, n, step,
                                                                   length, order, mptcp)
                                yield batch
                            off += good * step
                            stats.messages += good
                            continue
                off = control_message(chunk, off, seq, stats, what, msg_type, byteorder)
                if off < 0:
                    break
    except DumpDone:
        return
    if stats.malformed == malformed:
        # No NLMSG_DONE, and no cut message that was counted: the reply stopped between two
        # messages (or held none), so nothing says what is missing. Say the dump is incomplete.
        raise BackendUnavailable(f"{what}: the dump ended without NLMSG_DONE")


def decode_dump(reply: Reply, protocol: str, family: int, stats: DumpStats,
                cache: AddressCache | None = None) -> Iterator[InetSocket]:
    """The same dump, one ``InetSocket`` at a time."""
    for batch in decode_batches(reply, protocol, family, stats, cache):
        yield from batch.sockets()
