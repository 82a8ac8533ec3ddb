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

from pynetstat.linux.diagmsg import SOCK_DIAG_BY_FAMILY, socket_messages, u32_array
from pynetstat.linux.diagrecords import UnixSocket
from pynetstat.linux.netlink import NETLINK_SOCK_DIAG, RTATTR, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

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
