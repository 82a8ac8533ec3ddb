"""What the sock_diag decoders of the other kinds (UNIX, packet, RAW) share: walking a dump's
socket messages, and reading fixed-size attribute payloads.

These kinds are decoded one message at a time: their messages differ in length (a UNIX name, a
packet socket's membership list), so the column decoding of ``sockdiag`` does not apply as it
is. (A UNIX listing's large dumps are the exception: ``unixdiag.decode_listing`` splits a
buffer by a regular expression that knows every length a name can have.)
"""

from __future__ import annotations

import struct

from pynetstat.linux.netlink import iter_dump

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.linux.netlink import DumpStats, Reply

SOCK_DIAG_BY_FAMILY = 20  # include/uapi/linux/sock_diag.h
U8 = struct.Struct("=B")
U32 = struct.Struct("=I")
COOKIE = struct.Struct("=II")  # two u32 halves, low half first (sock_diag_save_cookie)


def socket_messages(reply: Reply, stats: DumpStats, what: str, family: int,
                    head_size: int) -> Iterator[tuple[bytes, int, int]]:
    """The socket messages of one dump as ``(buffer, offset, length)`` of each payload.

    A message that is not ``SOCK_DIAG_BY_FAMILY``, is shorter than the kind's fixed header
    (``head_size``) or is of another address family is counted in ``stats.malformed`` and
    skipped. An error reply raises ``NetlinkError`` (a missing diag module: ENOENT); a dump that
    ends without ``NLMSG_DONE`` and without a counted cut raises ``BackendUnavailable``.
    """
    for chunk, mtype, off, length in iter_dump(reply, stats, what, whole=True):
        if mtype != SOCK_DIAG_BY_FAMILY or length < head_size or chunk[off] != family:
            stats.malformed += 1
            continue
        yield chunk, off, length


def u32_attr(buf: bytes, where: tuple[int, int] | None) -> int | None:
    """A u32 attribute's value, None when it is absent or too short."""
    if where is None or where[1] < 4:
        return None
    value: int = U32.unpack_from(buf, where[0])[0]
    return value


def u32_array(buf: bytes, where: tuple[int, int] | None) -> tuple[int, ...] | None:
    """An attribute holding an array of u32 (a trailing partial word is ignored)."""
    if where is None:
        return None
    off, length = where
    return struct.unpack_from(f"={length // 4}I", buf, off)


def cookie(buf: bytes, off: int) -> int:
    low: int
    high: int
    low, high = COOKIE.unpack_from(buf, off)
    return high << 32 | low
