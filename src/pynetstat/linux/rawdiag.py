"""RAW IPv4/IPv6 sockets from NETLINK_SOCK_DIAG (inet_diag with the raw_diag handler,
net/ipv4/raw_diag.c; ``CONFIG_INET_RAW_DIAG``).

The request is the ``inet_diag_req_v2`` of TCP and UDP (include/uapi/linux/inet_diag.h) with
``sdiag_protocol = IPPROTO_RAW``: that picks the raw_diag handler, which dumps every raw socket
of the family whatever protocol it was opened with. (``struct inet_diag_req_raw`` names the pad
byte ``sdiag_raw_protocol``; only a single-socket lookup reads it, a dump ignores it. The
``INET_DIAG_REQ_PROTOCOL`` attribute is for protocols above 255, i.e. MPTCP, and is not sent.)
This is what ``ss -w`` sends (iproute2 misc/ss.c: ``inet_show_netlink(f, NULL, IPPROTO_RAW)``).

A reply is an ``inet_diag_msg`` (72 bytes) with attributes. For a SOCK_RAW socket the kernel
always adds INET_DIAG_PROTOCOL (u8, ``sk_protocol``: the protocol the socket was opened with);
the source "port" is ``inet_num``, the same protocol number. Queues are ``sk_rmem_alloc`` and
``sk_wmem_alloc`` (``raw_diag_get_info``). Without the handler the kernel answers ENOENT in
``NLMSG_DONE``, which ``decode_dump`` raises as ``NetlinkError``.
"""

from __future__ import annotations

import struct
from _socket import AF_INET, AF_INET6, inet_ntop

from pynetstat.linux.diagmsg import SOCK_DIAG_BY_FAMILY, U8, cookie, socket_messages
from pynetstat.linux.diagrecords import RawSocket
from pynetstat.linux.netlink import NETLINK_SOCK_DIAG, Request, parse_attrs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.linux.netlink import DumpStats, Reply

IPPROTO_RAW = 255
INET_DIAG_PROTOCOL = 10  # enum in include/uapi/linux/inet_diag.h
ALL_STATES = 0xFFFFFFFF
REQUEST_KEYS = {4: "sock_diag-raw", 6: "sock_diag-raw6"}

# inet_diag_req_v2: family, protocol, ext, pad (sdiag_raw_protocol), states, then the sockid:
# sport, dport, src, dst, if, cookie[2] (INET_DIAG_NOCOOKIE: all ones)
_REQ = struct.Struct("=BBBBI HH16s16sI II")
# inet_diag_msg: family, state, timer, retrans; ports (big-endian, read apart); src, dst, if,
# cookie[2]; expires, rqueue, wqueue, uid, inode
_MSG = struct.Struct("=BBxx4x16s16sI8xIIIII")
MSG_SIZE = 72
_PORT = struct.Struct(">H")


def build_request(family: int, states: int = ALL_STATES, ext: int = 0) -> Request:
    """A dump of the raw sockets of one family (4 or 6), all protocols."""
    af = AF_INET if family == 4 else AF_INET6
    payload = _REQ.pack(af, IPPROTO_RAW, ext, 0, states, 0, 0, b"", b"", 0, 0xFFFFFFFF, 0xFFFFFFFF)
    return Request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, payload, REQUEST_KEYS[family])


def decode_message(buf: bytes, off: int, length: int) -> RawSocket:
    """One ``inet_diag_msg`` of a raw socket and its attributes."""
    family, state, src, dst, ifindex, _expires, rqueue, wqueue, uid, inode = _MSG.unpack_from(buf, off)
    af, size = (AF_INET, 4) if family == AF_INET else (AF_INET6, 16)
    where = parse_attrs(buf, off + MSG_SIZE, off + length).get(INET_DIAG_PROTOCOL)
    if where is not None and where[1] >= 1:
        protocol = U8.unpack_from(buf, where[0])[0]
    else:  # inet_num, in the source port's place
        protocol = _PORT.unpack_from(buf, off + 4)[0]
    return RawSocket(family=4 if af == AF_INET else 6, protocol=protocol, state=state,
                     local_address=inet_ntop(af, src[:size]),
                     remote_address=inet_ntop(af, dst[:size]), ifindex=ifindex, inode=inode,
                     cookie=cookie(buf, off + 44), uid=uid, rqueue=rqueue, wqueue=wqueue,
                     verified=True)


def decode_dump(reply: Reply, stats: DumpStats, family: int) -> Iterator[RawSocket]:
    """Every socket of a raw_diag dump of ``family`` (4 or 6), in kernel order."""
    af = AF_INET if family == 4 else AF_INET6
    what = "sock_diag raw" + ("6" if family == 6 else "")
    for buf, off, length in socket_messages(reply, stats, what, af, MSG_SIZE):
        yield decode_message(buf, off, length)
