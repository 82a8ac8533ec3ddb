"""Netlink transport: send one dump request, hand back the kernel's reply buffers, split them.

A *source* answers ``dump(request) -> Reply``. Three kinds exist, interchangeable:

* ``LiveNetlink``: a real ``AF_NETLINK`` socket (``_socket`` is used rather than ``socket``: the
  public module builds its enums at import, which costs several milliseconds of start-up);
* ``RecordingNetlink``: a live source that also writes every reply to a directory;
* ``ReplayNetlink``: replays such a directory, so tests decode real kernel bytes.

Layouts are from ``include/uapi/linux/netlink.h``: ``struct nlmsghdr`` is
``{u32 len; u16 type; u16 flags; u32 seq; u32 pid}`` in host byte order, messages are aligned
to 4 bytes (``NLMSG_ALIGN``), and a dump ends with ``NLMSG_DONE`` whose payload is an ``int``
error (0, or a negative errno when the dump failed to start, e.g. a missing diag module).
"""

from __future__ import annotations

import os
import struct
import sys

from pynetstat.errors import BackendUnavailable, NetlinkError

TYPE_CHECKING = False  # typing and collections.abc cost start-up time; annotations are strings
if TYPE_CHECKING:
    from _socket import socket
    from collections.abc import Callable, Iterator
    from typing import Protocol

    class NetlinkSource(Protocol):
        """What collectors take as ``netlink``: LiveNetlink, RecordingNetlink, ReplayNetlink."""

        def dump(self, request: Request) -> Reply: ...

        def close(self) -> None: ...

AF_NETLINK = 16
NETLINK_ROUTE = 0
NETLINK_SOCK_DIAG = 4

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_DUMP_INTR = 0x10
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH

NLMSGHDR = struct.Struct("=IHHII")
NLMSG_HDRLEN = NLMSGHDR.size  # 16
_ERRNO = struct.Struct("=i")
# The header and error code in either byte order, for a dump recorded on a machine of the other
# order (a live dump is always in this host's).
_IN_ORDER = {order: (struct.Struct(f"{mark}IHHII"), struct.Struct(f"{mark}i"))
             for order, mark in (("little", "<"), ("big", ">"))}
_IN_ORDER[sys.byteorder] = (NLMSGHDR, _ERRNO)
_RECORD_MAGIC = b"PNLD"
_RECORD_HEAD = struct.Struct("<4sI")  # magic, seq
_RECORD_LEN = struct.Struct("<I")

RTATTR = struct.Struct("=HH")  # struct rtattr / struct nlattr: len, type


def nlmsg_align(n: int) -> int:
    return (n + 3) & ~3


class Request:
    """One dump request: which netlink protocol, the message, and a key naming it in recordings."""

    __slots__ = ("protocol", "msg_type", "flags", "payload", "key")

    def __init__(self, protocol: int, msg_type: int, payload: bytes, key: str,
                 flags: int = NLM_F_REQUEST | NLM_F_DUMP):
        self.protocol = protocol
        self.msg_type = msg_type
        self.flags = flags
        self.payload = payload
        self.key = key

    def encode(self, seq: int) -> bytes:
        return NLMSGHDR.pack(NLMSG_HDRLEN + len(self.payload), self.msg_type, self.flags, seq, 0) + self.payload


class Reply:
    """The kernel's answer to one request: the sequence number it carries and its raw buffers."""

    __slots__ = ("seq", "chunks")

    def __init__(self, seq: int, chunks: Iterator[bytes]):
        self.seq = seq
        self.chunks = chunks


class DumpStats:
    """What the framing layer had to throw away, so that it can be reported instead of hidden."""

    __slots__ = ("malformed", "foreign", "interrupted", "messages")

    def __init__(self) -> None:
        self.malformed = 0  # messages whose length field is impossible; the rest of that buffer is dropped
        self.foreign = 0  # messages with another sequence number (a stale reply)
        self.interrupted = False  # NLM_F_DUMP_INTR: the table changed during the dump
        self.messages = 0


def control_message(chunk: bytes, off: int, seq: int, stats: DumpStats, what: str,
                    data_type: int = -1, byteorder: str = sys.byteorder) -> int:
    """Handle the message at ``off`` that a fast decoder did not take; return the next offset,
    or -1 when the rest of the buffer cannot be trusted.

    Raises ``DumpDone`` at ``NLMSG_DONE`` (or an ACK) and ``NetlinkError`` for an error reply.
    A length shorter than a header or running past the buffer drops the rest of the buffer and is
    counted; otherwise the offset always advances, so no length field can make a caller spin.
    A message of ``data_type`` that reaches here was too short or of the wrong family: malformed.
    ``byteorder``: that of the kernel that wrote the dump.
    """
    header, errno_field = _IN_ORDER[byteorder]
    end = len(chunk)
    if off + NLMSG_HDRLEN > end:
        stats.malformed += 1  # trailing bytes too short for a header
        return -1
    length, mtype, flags, mseq, _pid = header.unpack_from(chunk, off)
    if length < NLMSG_HDRLEN or off + length > end:
        stats.malformed += 1
        return -1
    nxt = off + nlmsg_align(length)
    if mseq != seq:
        stats.foreign += 1
        return nxt
    if mtype == NLMSG_DONE:
        err = errno_field.unpack_from(chunk, off + NLMSG_HDRLEN)[0] if length >= NLMSG_HDRLEN + 4 else 0
        if err < 0:
            raise NetlinkError(-err, what)
        raise DumpDone
    if mtype == NLMSG_ERROR:
        if length < NLMSG_HDRLEN + 4:
            stats.malformed += 1
            return -1
        err = errno_field.unpack_from(chunk, off + NLMSG_HDRLEN)[0]
        if err < 0:
            raise NetlinkError(-err, what)
        raise DumpDone  # an ACK (error 0) ends a request that asked for one
    if mtype == data_type:
        stats.malformed += 1
    return nxt


def iter_messages(chunk: bytes, seq: int, stats: DumpStats, what: str) -> Iterator[tuple[int, int, int]]:
    """Split one receive buffer into ``(type, offset, length)`` of each data message's payload.

    Control messages go through ``control_message``: ``DumpDone`` at the end of the dump,
    ``NetlinkError`` for an error reply, malformed lengths counted.
    """
    end = len(chunk)
    off = 0
    unpack = NLMSGHDR.unpack_from
    while 0 <= off < end:
        if off + NLMSG_HDRLEN <= end:
            length, mtype, flags, mseq, _pid = unpack(chunk, off)
            if mtype >= 16 and mseq == seq and length >= NLMSG_HDRLEN and off + length <= end:
                stats.messages += 1
                if flags & NLM_F_DUMP_INTR:
                    stats.interrupted = True
                yield mtype, off + NLMSG_HDRLEN, length - NLMSG_HDRLEN
                off += nlmsg_align(length)
                continue
        off = control_message(chunk, off, seq, stats, what)


class DumpDone(Exception):
    """Internal signal: NLMSG_DONE was seen."""


def iter_dump(reply: Reply, stats: DumpStats, what: str,
              whole: bool = False) -> Iterator[tuple[bytes, int, int, int]]:
    """All messages of a dump as ``(chunk, type, offset, length)``, until ``NLMSG_DONE``.

    A reply that ends without ``NLMSG_DONE`` (a truncated recording) simply ends; the caller sees
    it in ``stats`` as nothing more than fewer messages. With ``whole``, such a reply raises
    ``BackendUnavailable`` at its end unless a cut message was counted in ``stats``, as
    ``sockdiag.decode_batches`` does: nothing else would say what is missing.
    """
    malformed = stats.malformed
    try:
        for chunk in reply.chunks:
            for mtype, off, length in iter_messages(chunk, reply.seq, stats, what):
                yield chunk, mtype, off, length
    except DumpDone:
        return
    if whole and stats.malformed == malformed:
        raise BackendUnavailable(f"{what}: the dump ended without NLMSG_DONE")


def parse_attrs(buf: bytes, off: int, end: int) -> dict[int, tuple[int, int]]:
    """Netlink attributes (``struct rtattr``) in ``buf[off:end]`` as ``{type: (offset, length)}``.

    Offsets point at the attribute's payload. A bad length ends the walk (never loops). The
    nested flag (bit 15) and byte-order flag (bit 14) are masked off the type.
    """
    attrs: dict[int, tuple[int, int]] = {}
    unpack = RTATTR.unpack_from
    while off + 4 <= end:
        alen, atype = unpack(buf, off)
        if alen < 4 or off + alen > end:
            break
        attrs[atype & 0x3FFF] = (off + 4, alen - 4)
        off += (alen + 3) & ~3
    return attrs


def _ends_dump(chunk: bytes | memoryview, seq: int) -> bool:
    """Does this buffer end our dump? The kernel puts ``NLMSG_DONE`` (16 + 4 bytes) last, and an
    error reply first. Decoders stop at those messages anyway; this only stops the receive loop,
    so that a consumer reading raw buffers does not wait for more."""
    if len(chunk) >= NLMSG_HDRLEN:
        _l, mtype, _f, mseq, _p = NLMSGHDR.unpack_from(chunk, 0)
        if mtype == NLMSG_ERROR and mseq == seq:
            return True
    if len(chunk) >= NLMSG_HDRLEN + 4:
        length, mtype, _f, mseq, _p = NLMSGHDR.unpack_from(chunk, len(chunk) - NLMSG_HDRLEN - 4)
        if length == NLMSG_HDRLEN + 4 and mtype == NLMSG_DONE and mseq == seq:
            return True
    return False


def _recv_into(sock: socket, into: memoryview, key: str) -> int:
    """One receive buffer, into ``into``; its size (0 at end of file)."""
    while True:
        try:
            return sock.recv_into(into)
        except InterruptedError:
            continue
        except OSError as e:
            raise BackendUnavailable(f"{key}: {e.strerror or e}") from None


def open_socket(protocol: int) -> socket:
    """A plain ``AF_NETLINK`` socket of ``protocol`` in our own network namespace."""
    import _socket

    return _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, protocol)


class LiveNetlink:
    """Real netlink sockets, one per netlink protocol, opened on first use.

    ``opener(protocol)`` makes each socket (``open_socket`` by default); ``linux.nsenter``
    passes one that makes it inside another network namespace, to which a netlink socket stays
    bound for its life.
    """

    RCVBUF = 1 << 20
    # The kernel fills a dump buffer with at most what the largest read asked for, capped at
    # 32 KiB (netlink_recvmsg: max_recvmsg_len <= SKB_WITH_OVERHEAD(32768)). Asking for twice
    # that is safe; asking for 1 MiB made every read allocate 1 MiB (10% of -an at 200k sockets).
    RECV_SIZE = 1 << 16
    GATHER = 1 << 18  # receive buffers are handed on together, this many bytes at a time

    def __init__(self, opener: Callable[[int], socket] = open_socket) -> None:
        self._opener = opener
        self._socks: dict[int, socket] = {}
        self._seq = int.from_bytes(os.urandom(2), "little") + 1

    def _sock(self, protocol: int) -> socket:
        sock = self._socks.get(protocol)
        if sock is None:
            import _socket

            try:
                sock = self._opener(protocol)
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, self.RCVBUF)
                sock.settimeout(10.0)
                sock.bind((0, 0))
            except OSError as e:
                raise BackendUnavailable(f"netlink protocol {protocol}: {e.strerror or e}") from None
            self._socks[protocol] = sock
        return sock

    def dump(self, request: Request) -> Reply:
        sock = self._sock(request.protocol)
        self._seq += 1
        seq = self._seq
        try:
            sock.sendto(request.encode(seq), (0, 0))
        except OSError as e:
            raise BackendUnavailable(f"{request.key}: {e.strerror or e}") from None
        return Reply(seq, self._receive(sock, request.key, seq))

    def _receive(self, sock: socket, key: str, seq: int) -> Iterator[bytes]:
        # The kernel makes the next dump buffer inside each recv, so a reader thread could
        # overlap that with decoding. It was tried (200k sockets, 2 cores): each recv must take
        # the GIL back from the decoding thread, which waits for the switch interval, so the
        # reader's 772 reads took 0.37-0.44 s instead of 0.16 s and the whole run gained
        # nothing (0.415 s against 0.42 s, even with a 0.1 ms switch interval). No thread.
        # The kernel's buffers (32 KiB: 78 sockets with --info) are read into one of GATHER
        # bytes and handed on together: a decoder's work per buffer (a run of equal-length
        # messages is a batch) is then done a few times per dump, not 500 times at 40k sockets.
        buf = bytearray(self.GATHER + self.RECV_SIZE)
        view = memoryview(buf)
        ended = False
        while not ended:
            filled = 0
            while filled < self.GATHER:
                read = _recv_into(sock, view[filled : filled + self.RECV_SIZE], key)
                if not read:
                    ended = True
                    break
                ended = _ends_dump(view[filled : filled + read], seq)
                filled += read
                if ended:
                    break
            if filled:
                yield bytes(view[:filled])

    def close(self) -> None:
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()


class RecordingNetlink:
    """A live source that also writes each reply to ``<dir>/<key>.nl`` (see ``read_recording``)."""

    def __init__(self, live: LiveNetlink, directory: str):
        self.live = live
        self.directory = directory

    def dump(self, request: Request) -> Reply:
        reply = self.live.dump(request)
        chunks = []
        # A dump ends at NLMSG_DONE or an error; read exactly that much so the file is complete.
        stats = DumpStats()
        try:
            for chunk in reply.chunks:
                chunks.append(chunk)
                for _ in iter_messages(chunk, reply.seq, stats, request.key):
                    pass
        except (DumpDone, NetlinkError):
            pass
        write_recording(os.path.join(self.directory, request.key + ".nl"), reply.seq, chunks)
        return Reply(reply.seq, iter(chunks))

    def close(self) -> None:
        self.live.close()


class ReplayNetlink:
    """Replays recordings from a directory. A request with no recording is 'not supported'."""

    def __init__(self, directory: str):
        self.directory = directory

    def dump(self, request: Request) -> Reply:
        path = os.path.join(self.directory, request.key + ".nl")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NetlinkError(95, f"{request.key} (no recording)") from None  # EOPNOTSUPP
        seq, chunks = read_recording(data, path)
        return Reply(seq, iter(chunks))

    def close(self) -> None:
        pass


def write_recording(path: str, seq: int, chunks: list[bytes]) -> None:
    """File format: ``b"PNLD"``, u32 seq, then each receive buffer as u32 length + bytes (little-endian lengths)."""
    with open(path, "wb") as f:
        f.write(_RECORD_HEAD.pack(_RECORD_MAGIC, seq))
        for chunk in chunks:
            f.write(_RECORD_LEN.pack(len(chunk)))
            f.write(chunk)


def read_recording(data: bytes, path: str = "<recording>") -> tuple[int, list[bytes]]:
    if len(data) < _RECORD_HEAD.size or data[:4] != _RECORD_MAGIC:
        raise BackendUnavailable(f"{path}: not a netlink recording")
    seq = _RECORD_HEAD.unpack_from(data)[1]
    chunks = []
    off = _RECORD_HEAD.size
    while off + 4 <= len(data):
        (n,) = _RECORD_LEN.unpack_from(data, off)
        off += 4
        chunks.append(data[off : off + n])  # a short final chunk is kept short: a truncated reply
        off += n
    return seq, chunks
