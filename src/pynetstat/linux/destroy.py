"""Close TCP connections the way ``ss -K`` does: sock_diag's SOCK_DESTROY, one socket at a time.

The request (``diagreq.destroy_socket``) names the socket by its ends as the kernel listed them
and by its cookie, so a new connection that reuses the same four-tuple between the listing and
the close is never the one closed (the kernel answers ENOENT instead). The owner of a destroyed
socket sees ECONNABORTED on its next call, the peer a RST (``tcp_abort``).

Used by ``--close`` (modes/close.py) and the live view's close key: one code path for both.
"""

from __future__ import annotations

import errno

from pynetstat.errors import CloseRefused, NetlinkError
from pynetstat.linux.diagreq import destroy_socket, execute

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.model.sockets import InetSocket

CLOSED, GONE = "closed", "gone"

UNSUPPORTED = ("cannot close connections: this kernel was built without "
               "CONFIG_INET_DIAG_DESTROY (sock_diag SOCK_DESTROY answers EOPNOTSUPP)")
DENIED = ("cannot close connections: the kernel's SOCK_DESTROY needs CAP_NET_ADMIN "
          "(run as root)")

# Sockets that are no full socket (struct inet_timewait_sock, struct request_sock)
_MINI_SOCKETS = {6: "TIME_WAIT", 12: "SYN_RECEIVED"}

# errno -> what it means for every socket after it: the run stops with this line
_REFUSALS = {errno.EOPNOTSUPP: UNSUPPORTED, errno.EPERM: DENIED, errno.EACCES: DENIED}


def destroy(netlink: NetlinkSource, sock: InetSocket) -> str:
    """Close one TCP socket: ``"closed"``, or ``"gone"`` when the kernel no longer has it (it
    closed meanwhile, or its cookie now names no socket). ``CloseRefused`` when the kernel cannot
    or will not (no CONFIG_INET_DIAG_DESTROY, no CAP_NET_ADMIN); any other refusal is a
    ``NetlinkError`` naming the errno."""
    request = destroy_socket(sock.family, sock.proto, (sock.local_address, sock.local_port),
                             (sock.remote_address, sock.remote_port), cookie=sock.cookie,
                             ifindex=sock.scope or 0)
    try:
        execute(netlink, request)
    except NetlinkError as e:
        if e.errno == errno.ENOENT:
            return GONE
        if e.errno == errno.EOPNOTSUPP and sock.state in _MINI_SOCKETS:
            # Kernels before TIME_WAIT support in tcp_abort refuse these alone: not a kernel
            # without SOCK_DESTROY (6.18 here closes them).
            raise NetlinkError(e.errno, f"this kernel cannot close a {_MINI_SOCKETS[sock.state]} "
                               "socket") from None
        refusal = _REFUSALS.get(e.errno)
        if refusal is not None:
            raise CloseRefused(refusal) from None
        raise
    return CLOSED


def destroy_all(netlink: NetlinkSource, socks: Iterable[InetSocket]) -> list[tuple[InetSocket, str]]:
    """``[(socket, "closed" | "gone" | "error text"), ...]`` for each socket in turn; a refusal
    of the kernel (``CloseRefused``) ends the run at the first socket it meets."""
    out = []
    for sock in socks:
        try:
            out.append((sock, destroy(netlink, sock)))
        except NetlinkError as e:
            out.append((sock, str(e)))
    return out
