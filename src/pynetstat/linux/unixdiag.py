"""AF_UNIX sockets from NETLINK_SOCK_DIAG (unix_diag, net/unix/diag.c).

Layouts, from ``include/uapi/linux/unix_diag.h``::

    struct unix_diag_req { u8 sdiag_family, sdiag_protocol; u16 pad; u32 udiag_states,
                           udiag_ino, udiag_show; u32 udiag_cookie[2]; }          # 24 bytes
    struct unix_diag_msg { u8 udiag_family, udiag_type, udiag_state, pad; u32 udiag_ino;
                           u32 udiag_cookie[2]; }                                 # 16 bytes

followed by attributes, each only when ``udiag_show`` asked for it: UNIX_DIAG_NAME (the bound
``sun_path``: a leading NUL for an abstract name, a trailing NUL after a path), UNIX_DIAG_VFS
(``{u32 ino, dev}`` of a path's file), UNIX_DIAG_PEER (u32, the peer's inode), UNIX_DIAG_ICONS
(u32 array: for a listener, the inode of each client waiting to be accepted), UNIX_DIAG_RQLEN
(``{u32 rqueue, wqueue}``; for a listener the accept queue length and the backlog limit),
UNIX_DIAG_MEMINFO (u32 array, SK_MEMINFO_*), UNIX_DIAG_SHUTDOWN (u8, always sent), and
UNIX_DIAG_UID (``uid_t``, since Linux 5.3). The kernel skips sockets with no inode (a
connection's server end before ``accept``), which /proc/net/unix lists with inode 0.
"""

from __future__ import annotations

import struct
import sys
from itertools import chain, compress
from operator import itemgetter

from pynetstat.errors import BackendUnavailable
from pynetstat.linux.diagmsg import SOCK_DIAG_BY_FAMILY, socket_messages, u32_array
from pynetstat.linux.diagrecords import UnixSocket
from pynetstat.linux.netlink import (
    NETLINK_SOCK_DIAG,
    NLM_F_DUMP_INTR,
    NLMSG_DONE,
    NLMSG_HDRLEN,
    RTATTR,
    DumpDone,
    Request,
    control_message,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterator
    from typing import Any, Literal

    from pynetstat.linux.netlink import DumpStats, Reply

AF_UNIX = 1
TCP_LISTEN = 10  # include/net/tcp_states.h: af_unix's listeners are in this state

UDIAG_SHOW_NAME = 0x01
UDIAG_SHOW_VFS = 0x02
UDIAG_SHOW_PEER = 0x04
UDIAG_SHOW_ICONS = 0x08
UDIAG_SHOW_RQLEN = 0x10
UDIAG_SHOW_MEMINFO = 0x20
UDIAG_SHOW_UID = 0x40
# Everything a listing shows. MEMINFO (36 bytes a socket) is left to views that ask for it.
DEFAULT_SHOW = (UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS
                | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID)

UNIX_DIAG_NAME = 0
UNIX_DIAG_VFS = 1
UNIX_DIAG_PEER = 2
UNIX_DIAG_ICONS = 3
UNIX_DIAG_RQLEN = 4
UNIX_DIAG_MEMINFO = 5
UNIX_DIAG_SHUTDOWN = 6
UNIX_DIAG_UID = 7

ALL_STATES = 0xFFFFFFFF
REQUEST_KEY = "sock_diag-unix"

_REQ = struct.Struct("=BBHIII II")
_MSG = struct.Struct("=BBBBIII")  # family, type, state, pad, inode, cookie low, cookie high
MSG_SIZE = 16
_PAIR = struct.Struct("=II").unpack_from
_U32 = struct.Struct("=I").unpack_from
_ATTR = RTATTR.unpack_from


def build_request(states: int = ALL_STATES, show: int = DEFAULT_SHOW) -> Request:
    """A dump of every UNIX socket of this network namespace in ``states`` (a bit per
    ``sk_state``), with the attributes ``show`` asks for."""
    return Request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY,
                   _REQ.pack(AF_UNIX, 0, 0, states, 0, show, 0, 0), REQUEST_KEY)


def split_name(raw: bytes) -> tuple[bytes, bool]:
    """A ``sun_path`` as the kernel holds it -> ``(name, abstract)``::

        b"\\0pnst.bus"     -> (b"pnst.bus", True)     shown as @pnst.bus
        b"/run/a.sock\\0"  -> (b"/run/a.sock", False)
        b"@lit\\0"         -> (b"@lit", False)        a path that starts with "@"

    An abstract name is every byte after the leading NUL, NULs included; a path ends at its
    first NUL.
    """
    if raw[:1] == b"\0":
        return raw[1:], True
    return raw.split(b"\0", 1)[0], False


def decode_message(buf: bytes, off: int, length: int, show: int = DEFAULT_SHOW) -> UnixSocket:
    """One ``unix_diag_msg`` and its attributes (``buf[off:off + length]``, at least 16 bytes),
    from a request that asked for ``show``.

    ``peer`` is 0 for a socket with no peer when the request asked for UNIX_DIAG_PEER (the
    kernel sends it whenever there is one), None when it did not ask. Other fields whose
    attribute is absent are None. An attribute too short for its type is ignored; a bad
    attribute length ends the walk, as in ``netlink.parse_attrs``.
    """
    _family, stype, state, _pad, inode, low, high = _MSG.unpack_from(buf, off)
    name = abstract = peer = rqueue = wqueue = backlog = uid = icons = vfs = shutdown = None
    meminfo = None
    # The attributes are walked here rather than through parse_attrs: this is the per-socket
    # path of a listing, and the dict of offsets cost a third of the decoding (200k sockets).
    end = off + length
    at = off + MSG_SIZE
    while at + 4 <= end:
        alen, atype = _ATTR(buf, at)
        if alen < 4 or at + alen > end:
            break
        size = alen - 4
        data = at + 4
        atype &= 0x3FFF
        if atype == UNIX_DIAG_PEER:
            if size >= 4:
                peer = _U32(buf, data)[0]
        elif atype == UNIX_DIAG_RQLEN:
            if size >= 8:
                rqueue, wqueue = _PAIR(buf, data)
        elif atype == UNIX_DIAG_SHUTDOWN:
            if size >= 1:
                shutdown = buf[data]
        elif atype == UNIX_DIAG_UID:
            if size >= 4:
                uid = _U32(buf, data)[0]
        elif atype == UNIX_DIAG_NAME:
            name, abstract = split_name(buf[data : data + size])
        elif atype == UNIX_DIAG_VFS:
            if size >= 8:
                vfs = _PAIR(buf, data)
        elif atype == UNIX_DIAG_ICONS:
            icons = u32_array(buf, (data, size))
        elif atype == UNIX_DIAG_MEMINFO:
            meminfo = u32_array(buf, (data, size))
        at += (alen + 3) & ~3
    if peer is None and show & UDIAG_SHOW_PEER:
        peer = 0
    if state == TCP_LISTEN:
        backlog = wqueue
    return UnixSocket(type=stype, state=state, inode=inode, cookie=high << 32 | low, name=name,
                      abstract=abstract, peer=peer, rqueue=rqueue, wqueue=wqueue, backlog=backlog,
                      uid=uid, icons=icons, vfs=vfs, shutdown=shutdown, meminfo=meminfo,
                      verified=True)


def decode_dump(reply: Reply, stats: DumpStats, show: int = DEFAULT_SHOW) -> Iterator[UnixSocket]:
    """Every socket of a unix_diag dump (asked for with ``show``), in kernel order."""
    for buf, off, length in socket_messages(reply, stats, "sock_diag unix", AF_UNIX, MSG_SIZE):
        yield decode_message(buf, off, length, show)


# --- the listing's path: columns, no record per socket ------------------------------------------
# What a listing shows: no VFS (the bound file's inode) and no ICONS (the pending clients), so
# that a message has one layout (sk_diag_fill's order): the headers, NAME when the socket is
# bound, PEER when it has one, then the fixed attributes the request asked for (``_FIXED``).
# LISTING_SHOW: every field of a UNIX row (JSON, CSV, the live view's details).
LISTING_SHOW = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID
# TABLE_SHOW: what the text table shows, the name and the peer (its columns are the spec's, no
# queues). ``ss -xa`` asks for RQLEN too (its Recv-Q and Send-Q). At 200k sockets the kernel's
# dump takes 0.15-0.16 s of system time instead of 0.18-0.20 s, and is 12 MB instead of 16.
TABLE_SHOW = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER

# the columns decode_columns gives, in this order (None where the request did not ask)
COLUMNS = ("type", "state", "inode", "cookie", "path", "abstract", "peer", "recv_q", "send_q",
           "uid")

# The attributes that follow NAME and PEER, in sk_diag_fill's order: the udiag_show bit that
# asks for it (0: always sent), its type, its payload (a struct format) and the columns it fills.
_FIXED = ((UDIAG_SHOW_RQLEN, UNIX_DIAG_RQLEN, "II", ("recv_q", "send_q")),
          (0, UNIX_DIAG_SHUTDOWN, "B", ()),
          (UDIAG_SHOW_UID, UNIX_DIAG_UID, "I", ("uid",)))
_TAIL_COLUMNS = ("recv_q", "send_q", "uid")

HEAD_SIZE = NLMSG_HDRLEN + MSG_SIZE  # nlmsghdr and unix_diag_msg: 32 bytes, 8 words
PEER_SIZE = 8  # its header and the u32
MAX_NAME = 108  # sizeof(sun_path)
_U16 = struct.Struct("=H")
_LOW, _FLAGS = (0, 6) if sys.byteorder == "little" else (3, 7)  # a u32's, a u16's low byte
_DUMP_INTR_BYTE = NLM_F_DUMP_INTR  # below 256: in the flags' low byte
_DUMP_INTR_ONLY = bytes(b & _DUMP_INTR_BYTE for b in range(256))  # bytes.translate: that bit
_NO_PEER = bytes(4)
_SEQ_BYTES = struct.Struct("=I").pack


def _peer_column(peers: list[bytes], sizes: bytes) -> bytes:
    """The PEER attributes of a buffer's messages (each whole, or empty for a socket with no
    peer; ``sizes``, their lengths, a byte each) -> the peer inodes, u32 each, 0 for none.

    The attributes joined are the inodes of the sockets with a peer, in order; a zero goes in
    at each socket without (few: listeners, unconnected datagram sockets), a slice a run."""
    values = memoryview(b"".join(peers)).cast("I")[1::2].tobytes()
    absent = sizes.find(0)
    if absent < 0:
        return values
    pieces: list[bytes] = []
    taken = 0  # bytes of ``values`` placed
    after = 0  # the row after the last socket without a peer
    while absent >= 0:
        end = taken + 4 * (absent - after)
        pieces += (values[taken:end], _NO_PEER)
        taken, after = end, absent + 1
        absent = sizes.find(0, after)
    pieces.append(values[taken:])
    return b"".join(pieces)


def _joined_cookie(low: int, high: int) -> int:
    return high << 32 | low


class _Names(dict):  # type: ignore[type-arg]
    """A NAME attribute (header, name, padding) -> ``(path, abstract)``, made on first use."""

    def __missing__(self, attr: bytes) -> tuple[bytes | None, bool | None]:
        value = self[attr] = split_name(attr[4 : _U16.unpack_from(attr)[0]])
        return value


def _escaped(data: bytes) -> bytes:
    return b"".join(b"\\x%02x" % b for b in data)


def _nothing(_values: tuple[Any, ...]) -> tuple[Any, ...]:
    return None, None, None


class Layout:
    """The message of a listing asked for with ``show``, past NAME and PEER: its fixed
    attributes (``_FIXED``: RQLEN, SHUTDOWN, UID for LISTING_SHOW, 28 bytes; SHUTDOWN alone for
    TABLE_SHOW, 8 bytes), what the walk unpacks them with, and where their columns are."""

    def __init__(self, show: int):
        fixed: list[tuple[int, str, tuple[str, ...]]] = [
            (atype, fmt, names) for bit, atype, fmt, names in _FIXED if not bit or show & bit]
        sizes = [4 + struct.calcsize("=" + fmt) for _t, fmt, _n in fixed]  # attribute lengths
        padded = [(size + 3) & ~3 for size in sizes]
        self.tail_size = sum(padded)
        self.columns = tuple(name for _t, _f, names in fixed for name in names)
        # the attribute headers of a tail, then of a PEER and a tail, as the walk unpacks them
        self.heads = tuple(v for (atype, _f, _n), size in zip(fixed, sizes) for v in (size, atype))
        self.peer_heads = (PEER_SIZE, UNIX_DIAG_PEER) + self.heads
        tail = "".join("HH" + fmt + "x" * (pad - size) for (_t, fmt, _n), size, pad
                       in zip(fixed, sizes, padded))
        self.bare = struct.Struct("=" + tail).unpack_from
        self.with_peer = struct.Struct("=HHI" + tail).unpack_from
        # positions, in an unpacked tail, of the headers and of each _TAIL_COLUMNS value
        heads: list[int] = []
        values: dict[str, int] = {}
        at = 0
        for _atype, fmt, names in fixed:
            heads += [at, at + 1]
            values.update(zip(names, range(at + 2, at + 2 + len(fmt))))
            at += 2 + len(fmt)
        self.bare_heads = itemgetter(*heads)
        self.peer_heads_of = itemgetter(0, 1, *(i + 3 for i in heads))
        self.bare_values: Callable[[tuple[Any, ...]], tuple[Any, ...]] = _nothing
        self.peer_values: Callable[[tuple[Any, ...]], tuple[Any, ...]] = _nothing
        if self.columns:
            self.bare_values = itemgetter(*(values[c] for c in _TAIL_COLUMNS))
            self.peer_values = itemgetter(*(values[c] + 3 for c in _TAIL_COLUMNS))
        # each column's u32 word in a tail, for the column path
        words: dict[str, int] = {}
        at = 0
        for (_atype, _fmt, names), pad in zip(fixed, padded):
            words.update(zip(names, range(at + 1, at + 1 + len(names))))
            at += pad // 4
        self.words = tuple(words.items())
        # a message's length less the fixed bytes, in one byte (``bytes.translate``)
        self.less_fixed = bytes((b - HEAD_SIZE - self.tail_size) % 256 for b in range(256))
        self._spec = fixed, sizes, padded
        self._pattern: re.Pattern[bytes] | None = None

    def pattern(self) -> re.Pattern[bytes]:
        """The layout's ``_message_pattern``, compiled at the first buffer tried whole."""
        if self._pattern is None:
            self._pattern = _message_pattern(*self._spec, bool(self.columns))
        return self._pattern


_LAYOUTS: dict[int, Layout] = {}  # the show bits of the fixed attributes -> their layout


def layout(show: int) -> Layout:
    """The layout of a listing's messages asked for with ``show``, made once."""
    found = _LAYOUTS.get(show & (UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID))
    if found is None:
        found = _LAYOUTS[show & (UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID)] = Layout(show)
    return found


def _message_pattern(fixed: list[tuple[int, str, tuple[str, ...]]], sizes: list[int],
                     padded: list[int], tail_group: bool) -> re.Pattern[bytes]:
    """A regular expression that matches one socket message of a listing's layout exactly, in
    three or four groups: the 32 bytes of headers, the NAME attribute with its padding (empty
    when unbound), the PEER attribute (empty when none), and (when they hold a column) the
    fixed attributes (RQLEN, SHUTDOWN, UID: ``Layout``); then, optionally, the next message
    the same way (its groups empty when there is none: at the end of a buffer). Two messages a
    match halve the search's cost per match (it allocates and frees its stack at each), a
    sixth of its instructions.

    The NAME's length is in its header, which a pattern cannot count with; but its padded size
    is one of 28 (4 to 112 bytes, a multiple of 4), so there is one alternative for each: a
    header whose length byte is in that size's range, then exactly that many bytes. Every other
    byte of a match is a constant or a fixed count, so a match is a parse: the decoder need only
    check that the matches tile the buffer and that each is as long as its netlink header says.
    Native byte order, as the kernel writes it. (``re`` is imported here: 7 ms of start-up,
    paid only by a dump large enough to gain it back, see ``FAST_AFTER``.)"""
    import re

    def attr(atype: int, length: int) -> bytes:
        return _escaped(RTATTR.pack(length, atype))

    def u16_in(low: int, high: int) -> bytes:  # a u16 from low to high (both below 256)
        cls = b"[\\x%02x-\\x%02x]" % (low, high)
        return cls + b"\\x00" if sys.byteorder == "little" else b"\\x00" + cls

    names = [attr(UNIX_DIAG_NAME, 4)]  # an empty name (no kernel sends one; cheap to allow)
    names += [u16_in(size + 1, size + 4) + _escaped(_U16.pack(UNIX_DIAG_NAME)) + _any(size)
              for size in range(4, MAX_NAME + 1, 4)]
    head = (_any(4) + _escaped(_U16.pack(SOCK_DIAG_BY_FAMILY)) + _any(10)  # len, type; flags, seq, pid
            + _escaped(bytes([AF_UNIX])) + _any(15))  # family; type, state, pad, inode, cookie
    tail = b"".join(attr(atype, size) + _any(pad - 4)
                    for (atype, _f, _n), size, pad in zip(fixed, sizes, padded))
    if tail_group:
        tail = b"(" + tail + b")"
    # The lookahead (a length below 256 and a NAME's type) spares an unbound socket's message
    # the 28 alternatives (a quarter of the time of the search). An optional part is written
    # ``(?:X|)``, not ``(?:X)?``: the same matches, without the engine's repeat context (and
    # the marks it saves at each alternative tried inside it), 17% of the search.
    named = (b".\\x00" if sys.byteorder == "little" else b"\\x00.") + _escaped(_U16.pack(UNIX_DIAG_NAME))
    one = b"(%s)((?=%s)(?:%s)|)(%s%s|)%s" % (
        head, named, b"|".join(names), attr(UNIX_DIAG_PEER, 8), _any(4), tail)
    return re.compile(b"%s(?:%s|)" % (one, one), re.DOTALL)


def _any(count: int) -> bytes:
    """``count`` bytes of any value: a run of dots up to 16 (each a step of the engine; a
    ``.{n}`` is a repeat, a frame of its backtracking stack: 8% of the search), else ``.{n}``."""
    return b"." * count if count <= 16 else b".{%d}" % count


# Messages walked one at a time before buffers are tried whole: importing ``re`` and compiling
# the pattern cost about 12 ms (2 cores under load), which a dump gains back at about 1 us a
# message; a usual host's few hundred sockets never pay it. A buffer is counted with the
# messages it holds at SMALL_MESSAGE bytes each (an unbound socket's with a peer, TABLE_SHOW):
# a large dump's first buffer (the reader gathers the kernel's, 260 KB in a recorded dump of
# 40k sockets) is then tried whole too, and the walk (twice the instructions of the column
# path a message) is left to small dumps and to odd buffers.
FAST_AFTER = 4096
SMALL_MESSAGE = HEAD_SIZE + PEER_SIZE + 8  # and SHUTDOWN


class _Packed:
    """One buffer's messages as the pattern split them, compact until the dump is read (a
    socket's peer may come after it): each field the listing keeps as one ``bytes`` of its
    values (``_PACKED``, then the layout's columns: type and state a byte each, the rest u32,
    the cookie u64; a peer 0 when none), and each message's ``(path, abstract)``."""

    __slots__ = ("fields", "names")

    def __init__(self, fields: tuple[bytes, ...], names: list[tuple[bytes | None, bool | None]]):
        self.fields, self.names = fields, names


# what _Packed.fields hold first, in order, and how each is read back (a memoryview format);
# then the layout's columns, u32 each
_PACKED: tuple[tuple[str, Literal["B", "I", "Q"]], ...] = (
    ("type", "B"), ("state", "B"), ("inode", "I"), ("cookie", "Q"), ("peer", "I"))


class UnixListing:
    """A unix_diag dump as a listing reads it (``decode_listing``): ``named``, the bound
    sockets' ``(path, abstract)`` by inode (for the peer join), and the rows by column, a few
    buffers at a time (``groups``), made from the packed buffers only when asked for."""

    def __init__(self, asked_peer: int | None, show: int = LISTING_SHOW):
        self.asked_peer = asked_peer
        self.show = show
        self.layout: Layout | None = None  # made at the first buffer tried whole
        self.named: dict[int, tuple[bytes | None, bool | None]] = {}
        self.parts: list[_Packed | dict[str, list[Any]]] = []  # a walked buffer: its columns
        self.by_attr = _Names({b"": (None, None)})

    def add_messages(self, buf: bytes, seq: int, stats: DumpStats) -> bool:
        """Every message of ``buf`` if all are socket messages of the usual layout; else add
        nothing and say False (the caller walks the buffer a message at a time)."""
        form = self.layout
        if form is None:
            form = self.layout = layout(self.show)
        found = form.pattern().findall(buf)
        if not found:
            return False
        # a match's groups are two messages': each field's list, in message order
        matched = tuple(zip(*found))
        k = len(matched) // 2
        parts: list[list[bytes]] = []
        for first, second in zip(matched[:k], matched[k:]):
            column = [b""] * (2 * len(found))
            column[0::2], column[1::2] = first, second
            parts.append(column)
        if not found[-1][k]:  # the last match held one message
            for column in parts:
                del column[-1]
        heads, names, peers = parts[:3]
        head = b"".join(heads)
        n = len(heads)
        if len(head) != HEAD_SIZE * n:  # a match of one message before the end: something
            return False                # else followed it
        seq_bytes = _SEQ_BYTES(seq)
        # The matches tile the buffer (a search resumes past what it cannot match, maybe inside
        # a name: nothing may be skipped) and each is its netlink message (as long as its header
        # says, of this dump). A match is at most 180 bytes: lengths are compared by their low
        # bytes (in C), and the sum of the whole lengths rules out a high byte anywhere.
        # Each size in a byte (a NAME is at most 112 bytes, a PEER 8): their sums, a byte each,
        # are one addition of two integers (no byte carries into the next).
        name_sizes, peer_sizes = bytes(map(len, names)), bytes(map(len, peers))
        if (sum(name_sizes) + sum(peer_sizes) + (HEAD_SIZE + form.tail_size) * n != len(buf)
                or sum(memoryview(head).cast("I")[0::8]) != len(buf)
                or int.from_bytes(head[_LOW::HEAD_SIZE].translate(form.less_fixed), "little")
                != int.from_bytes(name_sizes, "little") + int.from_bytes(peer_sizes, "little")
                or any(head[8 + i :: HEAD_SIZE] != seq_bytes[i : i + 1] * n for i in range(4))
                or (self.asked_peer is None and peer_sizes.count(0) != n)):
            return False
        stats.messages += n
        if _DUMP_INTR_BYTE in head[_FLAGS::HEAD_SIZE].translate(_DUMP_INTR_ONLY):
            stats.interrupted = True
        pairs = list(map(self.by_attr.__getitem__, names))
        words = memoryview(head).cast("I")
        self.named.update(zip(compress(words[5::8], names), compress(pairs, names)))
        if sys.byteorder == "little":
            cookie = memoryview(head).cast("Q")[3::4].tobytes()
        else:
            cookie = struct.pack(f"={n}Q", *map(_joined_cookie, words[6::8], words[7::8]))
        peer = b"" if self.asked_peer is None else _peer_column(peers, peer_sizes)
        fields: tuple[bytes, ...] = (head[17::HEAD_SIZE], head[18::HEAD_SIZE],
                                     words[5::8].tobytes(), cookie, peer)
        if form.columns:
            tail = memoryview(b"".join(parts[3])).cast("I")
            stride = form.tail_size // 4
            fields += tuple(tail[at::stride].tobytes() for _name, at in form.words)
        self.parts.append(_Packed(fields, pairs))
        return True

    def add_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Sockets of a buffer walked a message at a time, a tuple each (``COLUMNS``)."""
        if not rows:
            return
        part = self.parts[-1] if self.parts else None
        if not isinstance(part, dict):
            part = {name: [] for name in COLUMNS}
            self.parts.append(part)
        for name, column in zip(COLUMNS, zip(*rows)):
            part[name] += column
        named = self.named
        for row in rows:
            if row[4] is not None:
                named[row[2]] = (row[4], row[5])

    def groups(self, size: int) -> Iterator[dict[str, list[Any]]]:
        """The rows by column (``COLUMNS``), in dump order, ``size`` rows a group (the last may
        hold fewer): the same groups whatever the kernel's buffers held, so that a table's
        blocks, measured a batch at a time, are the same whatever the request asked for.

        Each group is read from its rows' bytes (``_Run.columns``): a row is made into
        Python values once, and copied again only when a group spans two runs."""
        held: dict[str, list[Any]] = {}  # the rows of a group begun, fewer than ``size``
        for run in self._runs(size):
            n, start = len(run), 0
            if held:
                start = min(size - len(held["inode"]), n)
                more = run.columns(0, start)
                held = {name: held[name] + more[name] for name in COLUMNS}
                if len(held["inode"]) < size:
                    continue
                yield held
                held = {}
            while n - start >= size:
                yield run.columns(start, start + size)
                start += size
            if start < n:
                held = run.columns(start, n)
        if held:
            yield held

    def _runs(self, size: int) -> Iterator[_Run | _Walked]:
        """The rows in dump order: consecutive packed buffers joined until they hold ``size``
        rows or more (then each field is one strided slice), a walked buffer on its own."""
        packed: list[_Packed] = []
        rows = 0
        for part in self.parts:
            if isinstance(part, dict):
                if packed:
                    yield self._run(packed)
                    packed, rows = [], 0
                yield _Walked(part)
                continue
            packed.append(part)
            rows += len(part.names)
            if rows >= size:
                yield self._run(packed)
                packed, rows = [], 0
        if packed:
            yield self._run(packed)

    def _run(self, packed: list[_Packed]) -> _Run:
        assert self.layout is not None  # a packed buffer was split by its pattern
        formats = _PACKED + tuple((name, "I") for name, _at in self.layout.words)
        return _Run(packed, formats, self.asked_peer is None)


class _Walked:
    """A walked buffer's rows (``UnixListing.add_rows``), read as a ``_Run`` is."""

    __slots__ = ("part",)

    def __init__(self, part: dict[str, list[Any]]):
        self.part = part

    def __len__(self) -> int:
        return len(self.part["inode"])

    def columns(self, start: int, stop: int) -> dict[str, list[Any]]:
        return {name: column[start:stop] for name, column in self.part.items()}


class _Run:
    """Consecutive packed buffers (``_Packed``) joined: each field one ``memoryview`` of its
    values, the ``(path, abstract)`` of each row one list."""

    __slots__ = ("views", "names", "no_peer")

    def __init__(self, packed: list[_Packed],
                 formats: tuple[tuple[str, Literal["B", "I", "Q"]], ...], no_peer: bool):
        self.views = {name: memoryview(b"".join([p.fields[i] for p in packed])).cast(fmt)
                      for i, (name, fmt) in enumerate(formats)}
        self.names = list(chain.from_iterable([p.names for p in packed]))
        self.no_peer = no_peer  # the request did not ask for peers: their column is None

    def __len__(self) -> int:
        return len(self.names)

    def columns(self, start: int, stop: int) -> dict[str, list[Any]]:
        """Rows ``start`` to ``stop`` by column (``COLUMNS``)."""
        columns: dict[str, list[Any]] = {
            name: view[start:stop].tolist() for name, view in self.views.items()}
        names = self.names[start:stop]
        n = len(names)
        columns["path"] = list(map(itemgetter(0), names))
        columns["abstract"] = list(map(itemgetter(1), names))
        if self.no_peer:
            columns["peer"] = [None] * n
        for name in _TAIL_COLUMNS:
            if name not in columns:
                columns[name] = [None] * n
        return columns


def decode_listing(reply: Reply, stats: DumpStats, show: int = LISTING_SHOW,
                   fast_after: int = FAST_AFTER) -> UnixListing:
    """A unix_diag dump asked for with ``show`` (the whole of it: a socket's peer may come
    after it), read for a listing: what ``decode_dump`` gives, without a record per socket.

    A receive buffer of socket messages of the listing's layout (all but the last, usually) is
    split in C by one regular expression (``_message_pattern``) into fixed headers, names,
    peers and fixed tails, and kept so (``_Packed``); ``UnixListing.groups`` reads each field of
    a few such buffers by one strided slice, as ``sockdiag``'s column decoder does for inet
    sockets. Any other buffer (NLMSG_DONE at its end, a message of another layout or of another
    dump) is walked a message at a time, each through ``decode_message``, anything but a
    socket message of this dump through ``netlink.control_message``. Errors and a dump without
    NLMSG_DONE raise as ``decode_dump`` does."""
    out = UnixListing(0 if show & UDIAG_SHOW_PEER else None, show)
    seq, malformed, what = reply.seq, stats.malformed, "sock_diag unix"
    walk_until = stats.messages + fast_after
    walker = Walker(show, out)
    try:
        for buf in reply.chunks:
            if stats.messages + len(buf) // SMALL_MESSAGE < walk_until:
                walker.walk(buf, seq, stats)
                continue
            # The reader gathers the kernel's buffers, so the last one also holds NLMSG_DONE:
            # the socket messages before it still go by column, the end is walked.
            body, end = split_done(buf)
            if out.add_messages(body, seq, stats):
                if end:
                    walker.walk(end, seq, stats)
            else:
                walker.walk(buf, seq, stats)
    except DumpDone:
        pass
    else:
        if stats.malformed == malformed:
            raise BackendUnavailable(f"{what}: the dump ended without NLMSG_DONE")
    return out


_DONE_HEAD = struct.Struct("=IH")
_DONE_SIZE = NLMSG_HDRLEN + 4  # struct nlmsghdr, then the dump's int result


def split_done(buf: bytes) -> tuple[bytes, bytes]:
    """``buf`` as (what comes before a final NLMSG_DONE, that message), or ``(buf, b"")``. Bytes
    of a name that only look like one leave a body that ``add_messages`` refuses (its messages
    must tile it exactly), and the whole buffer is then walked."""
    at = len(buf) - _DONE_SIZE
    if at > 0 and _DONE_HEAD.unpack_from(buf, at) == (_DONE_SIZE, NLMSG_DONE):
        return buf[:at], buf[at:]
    return buf, b""


def decode_columns(reply: Reply, stats: DumpStats, show: int = LISTING_SHOW,
                   fast_after: int = FAST_AFTER) -> dict[str, list[Any]]:
    """The whole dump as columns (``COLUMNS``), every group of ``decode_listing`` in one."""
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for group in decode_listing(reply, stats, show, fast_after).groups(1 << 16):
        for name in COLUMNS:
            columns[name] += group[name]
    return columns


# The walk's one unpack for a message's netlink header and unix_diag_msg (length, type, flags,
# seq, pid; family, type, state, pad, inode, cookie low, high); then, after the NAME of a named
# socket, one for [PEER] and the layout's fixed attributes, each attribute with its header.
_FRAME = struct.Struct("=IHHII BBBBIII")


class Walker:
    """The messages of a buffer one at a time (the first of a dump, the one with NLMSG_DONE, an
    unusual one), into ``out``: a message of the usual layout (a NAME or none, then [PEER] and
    the layout's fixed attributes) in two or three unpacks, any other through
    ``decode_message``; anything but a socket message of this dump through
    ``netlink.control_message``. The layout is made at the first buffer (a few struct formats,
    no ``re``)."""

    def __init__(self, show: int, out: UnixListing):
        self.show, self.out = show, out
        self.form: Layout | None = None

    def walk(self, buf: bytes, seq: int, stats: DumpStats) -> None:
        form = self.form
        if form is None:
            form = self.form = layout(self.show)
        show, out = self.show, self.out
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        frame, attr = _FRAME.unpack_from, _ATTR
        with_peer, bare = form.with_peer, form.bare
        peer_heads, bare_heads = form.peer_heads_of, form.bare_heads
        peer_head, bare_head = form.peer_heads, form.heads
        peer_values, bare_values = form.peer_values, form.bare_values
        peer_size, bare_size = form.tail_size + PEER_SIZE, form.tail_size
        asked_peer = out.asked_peer
        end_of_buf = len(buf)
        off = 0
        try:
            while 0 <= off < end_of_buf:
                if off + HEAD_SIZE <= end_of_buf:
                    length, mtype, flags, mseq, _pid, family, ty, st, _p, ino, low, high = frame(buf, off)
                    end = off + length
                    if (mtype == SOCK_DIAG_BY_FAMILY and mseq == seq and family == AF_UNIX
                            and length >= HEAD_SIZE and end <= end_of_buf):
                        stats.messages += 1
                        if flags & NLM_F_DUMP_INTR:
                            stats.interrupted = True
                        at = off + HEAD_SIZE
                        name = named = None
                        if at + 4 <= end:
                            alen, atype = attr(buf, at)
                            if atype == UNIX_DIAG_NAME and 4 <= alen <= end - at:
                                name, named = split_name(buf[at + 4 : at + alen])
                                at += (alen + 3) & ~3
                        rest = end - at
                        values: tuple[Any, ...] | None = None
                        if rest == peer_size:
                            t = with_peer(buf, at)
                            if peer_heads(t) == peer_head:
                                p = t[2]
                                values = peer_values(t)
                        elif rest == bare_size:
                            t = bare(buf, at)
                            if bare_heads(t) == bare_head:
                                p = asked_peer
                                values = bare_values(t)
                        if values is None:
                            sock = decode_message(buf, off + NLMSG_HDRLEN, length - NLMSG_HDRLEN, show)
                            name, named, p = sock.name, sock.abstract, sock.peer
                            values = sock.rqueue, sock.wqueue, sock.uid
                        append((ty, st, ino, high << 32 | low, name, named, p) + values)
                        off += (length + 3) & ~3
                        continue
                off = control_message(buf, off, seq, stats, "sock_diag unix", SOCK_DIAG_BY_FAMILY)
        finally:  # NLMSG_DONE or an error ends the walk: keep what came before it
            out.add_rows(rows)
