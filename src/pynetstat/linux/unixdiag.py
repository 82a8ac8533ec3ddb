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
from operator import itemgetter

from pynetstat.errors import BackendUnavailable
from pynetstat.linux.diagmsg import SOCK_DIAG_BY_FAMILY, socket_messages, u32_array
from pynetstat.linux.diagrecords import UnixSocket
from pynetstat.linux.netlink import (
    NETLINK_SOCK_DIAG,
    NLM_F_DUMP_INTR,
    NLMSG_HDRLEN,
    RTATTR,
    DumpDone,
    Request,
    control_message,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

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
# that an unnamed socket's message has one of two fixed layouts (sk_diag_fill's order: PEER when
# it has one, RQLEN, SHUTDOWN, UID), read with one unpack each.
LISTING_SHOW = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID
# After the header and the NAME of a named socket: [PEER]; RQLEN; SHUTDOWN; UID, each attribute
# with its (length, type) header
# nlmsghdr (length, type, flags, seq, pid), then unix_diag_msg (family, type, state, pad, inode,
# cookie low, high)
_FRAME = struct.Struct("=IHHII BBBBIII")
_TAIL_PEER = struct.Struct("=HHI HHII HHB3x HHI")
_TAIL_BARE = struct.Struct("=HHII HHB3x HHI")
_PEER_HEAD = (8, UNIX_DIAG_PEER, 12, UNIX_DIAG_RQLEN, 5, UNIX_DIAG_SHUTDOWN, 8, UNIX_DIAG_UID)
_BARE_HEAD = (12, UNIX_DIAG_RQLEN, 5, UNIX_DIAG_SHUTDOWN, 8, UNIX_DIAG_UID)
# where the attribute headers are in each unpacked tail
_PEER_HEADS = itemgetter(0, 1, 3, 4, 7, 8, 10, 11)
_BARE_HEADS = itemgetter(0, 1, 4, 5, 7, 8)

# the columns decode_columns gives, in this order
COLUMNS = ("type", "state", "inode", "cookie", "path", "abstract", "peer", "recv_q", "send_q",
           "uid")


def decode_columns(reply: Reply, stats: DumpStats, show: int = LISTING_SHOW) -> dict[str, tuple[Any, ...]]:
    """Every socket of a unix_diag dump asked for with ``show``, as columns (``COLUMNS``): what
    ``decode_dump`` gives, without a record per socket. It reads the receive buffers itself, as
    ``sockdiag``'s column decoder does (the netlink header and the socket's header in one
    unpack; anything but a socket message of this dump goes to ``netlink.control_message``): a
    message of the usual layout (a NAME or none, then one of the two fixed tails) costs two or
    three unpacks; any other (a kernel that sends something else) goes through
    ``decode_message``. Errors and a dump without NLMSG_DONE raise as ``decode_dump`` does."""
    rows: list[tuple[Any, ...]] = []  # one tuple a socket, turned into columns at the end (zip, in C)
    append = rows.append
    frame, attr = _FRAME.unpack_from, _ATTR
    with_peer, no_peer = _TAIL_PEER.unpack_from, _TAIL_BARE.unpack_from
    peer_heads, bare_heads = _PEER_HEADS, _BARE_HEADS
    asked_peer = 0 if show & UDIAG_SHOW_PEER else None
    seq, malformed, what = reply.seq, stats.malformed, "sock_diag unix"
    try:
        for buf in reply.chunks:
            end_of_buf = len(buf)
            off = 0
            while 0 <= off < end_of_buf:
                if off + _FRAME.size <= end_of_buf:
                    length, mtype, flags, mseq, _pid, family, ty, st, _p, ino, low, high = frame(buf, off)
                    end = off + length
                    if (mtype == SOCK_DIAG_BY_FAMILY and mseq == seq and family == AF_UNIX
                            and length >= _FRAME.size and end <= end_of_buf):
                        stats.messages += 1
                        if flags & NLM_F_DUMP_INTR:
                            stats.interrupted = True
                        at = off + _FRAME.size
                        name = named = None
                        if at + 4 <= end:
                            alen, atype = attr(buf, at)
                            if atype == UNIX_DIAG_NAME and 4 <= alen <= end - at:
                                name, named = split_name(buf[at + 4 : at + alen])
                                at += (alen + 3) & ~3
                        rest = end - at
                        t = None
                        if rest == 36:
                            t = with_peer(buf, at)
                            if peer_heads(t) == _PEER_HEAD:
                                p, rq, wq, u = t[2], t[5], t[6], t[12]
                            else:
                                t = None
                        elif rest == 28:
                            t = no_peer(buf, at)
                            if bare_heads(t) == _BARE_HEAD:
                                p, rq, wq, u = asked_peer, t[2], t[3], t[9]
                            else:
                                t = None
                        if t is None:
                            sock = decode_message(buf, off + NLMSG_HDRLEN, length - NLMSG_HDRLEN, show)
                            name, named, p = sock.name, sock.abstract, sock.peer
                            rq, wq, u = sock.rqueue, sock.wqueue, sock.uid
                        append((ty, st, ino, high << 32 | low, name, named, p, rq, wq, u))
                        off += (length + 3) & ~3
                        continue
                off = control_message(buf, off, seq, stats, what, SOCK_DIAG_BY_FAMILY)
    except DumpDone:
        pass
    else:
        if stats.malformed == malformed:
            raise BackendUnavailable(f"{what}: the dump ended without NLMSG_DONE")
    columns = list(zip(*rows)) if rows else [()] * len(COLUMNS)
    return dict(zip(COLUMNS, columns))
