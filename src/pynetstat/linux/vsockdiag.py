"""AF_VSOCK sockets from NETLINK_SOCK_DIAG (vsock_diag, net/vmw_vsock/diag.c;
``CONFIG_VSOCKETS_DIAG``).

Layouts, from ``include/uapi/linux/vm_sockets_diag.h``::

    struct vsock_diag_req { u8 sdiag_family (AF_VSOCK, 40), sdiag_protocol (0); u16 pad;
                            u32 vdiag_states, vdiag_ino (0), vdiag_show (0);
                            u32 vdiag_cookie[2]; }                                 # 24 bytes
    struct vsock_diag_msg { u8 vdiag_family, vdiag_type, vdiag_state, vdiag_shutdown;
                            u32 vdiag_src_cid, vdiag_src_port, vdiag_dst_cid, vdiag_dst_port;
                            u32 vdiag_ino; u32 vdiag_cookie[2]; }                  # 32 bytes

Only dumps are served (a request without NLM_F_DUMP: EOPNOTSUPP). The kernel walks its bind
table, then the connected table (sockets accepted from a listener), each socket once, and keeps
those whose ``sk_state`` bit is in ``vdiag_states``. No attributes follow a message. Without the
module the request is refused with NLMSG_ERROR -ENOENT (sock_diag has no handler for the
family), which ``decode_dump`` raises as ``NetlinkError``.
"""

from __future__ import annotations

import struct

from pynetstat.linux.diagmsg import SOCK_DIAG_BY_FAMILY, cookie, socket_messages
from pynetstat.linux.diagrecords import VsockSocket
from pynetstat.linux.netlink import NETLINK_SOCK_DIAG, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.linux.netlink import DumpStats, Reply

AF_VSOCK = 40
ALL_STATES = 0xFFFFFFFF
_REQ = struct.Struct("=BBHIII II")
_MSG = struct.Struct("=BBBB IIIII")  # the cookie (two u32 at 24) is read apart
MSG_SIZE = 32


def build_request(states: int = ALL_STATES) -> Request:
    """A dump of every vsock socket whose state is in the mask (bit N = sk_state N)."""
    payload = _REQ.pack(AF_VSOCK, 0, 0, states, 0, 0, 0, 0)
    return Request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, payload, "sock_diag-vsock")


def decode_message(buf: bytes, off: int) -> VsockSocket:
    """One ``vsock_diag_msg``.

    >>> msg = struct.pack("=BBBB IIIII II", 40, 1, 10, 0, 2, 1024, 0xFFFFFFFF, 0xFFFFFFFF, 77, 5, 0)
    >>> s = decode_message(msg, 0)
    >>> (s.type, s.state, s.local_cid, s.local_port, s.remote_cid, s.inode, s.cookie)
    (1, 10, 2, 1024, 4294967295, 77, 5)
    """
    (_family, stype, state, shutdown, src_cid, src_port, dst_cid, dst_port,
     inode) = _MSG.unpack_from(buf, off)
    return VsockSocket(type=stype, state=state, shutdown=shutdown, local_cid=src_cid,
                       local_port=src_port, remote_cid=dst_cid, remote_port=dst_port,
                       inode=inode, cookie=cookie(buf, off + 24))


def decode_dump(reply: Reply, stats: DumpStats) -> Iterator[VsockSocket]:
    """Every socket of a vsock_diag dump, in kernel order."""
    for buf, off, _length in socket_messages(reply, stats, "sock_diag vsock", AF_VSOCK, MSG_SIZE):
        yield decode_message(buf, off)
