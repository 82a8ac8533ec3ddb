"""Which sock_diag handlers this kernel has: one cheap request per kind, answered by an empty
dump (the handler exists) or an error (it does not).

A missing handler shows in one of two ways (net/core/sock_diag.c, net/ipv4/inet_diag.c): for
an address family with no handler (AF_VSOCK without ``CONFIG_VSOCKETS_DIAG``) the request is
refused with NLMSG_ERROR -ENOENT; for an inet protocol with no handler (raw without
``CONFIG_INET_RAW_DIAG``, SCTP without ``CONFIG_IP_SCTP``) the dump starts and its NLMSG_DONE
carries -ENOENT. Both reach the caller as ``NetlinkError`` with ``errno`` ENOENT.

Each probe asks for sockets in no state (a zero state mask), so the kernel checks the handler
and sends nothing, however many sockets the host holds. packet_diag has no state filter: its
probe asks for no attributes, 16 bytes a socket.

ICMP "ping" sockets (``SOCK_DGRAM``, ``IPPROTO_ICMP``) have no handler in any kernel (nothing
registers one for IPPROTO_ICMP; ss does not list them): /proc/net/icmp and icmp6 are their only
source. The ``ping`` probe asks anyway, so that a kernel that adds one is noticed.
"""

from __future__ import annotations

import struct

from pynetstat.errors import NetlinkError
from pynetstat.linux.diagmsg import SOCK_DIAG_BY_FAMILY
from pynetstat.linux.netlink import NETLINK_SOCK_DIAG, RTATTR, DumpStats, Request, iter_dump

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.linux.netlink import NetlinkSource

AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
AF_PACKET = 17
AF_VSOCK = 40
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132
IPPROTO_RAW = 255
IPPROTO_MPTCP = 262  # above 255: named by the INET_DIAG_REQ_PROTOCOL attribute
INET_DIAG_REQ_PROTOCOL = 3  # include/uapi/linux/inet_diag.h, enum of request attributes

_INET_REQ = struct.Struct("=BBBBI 48x")  # inet_diag_req_v2 with a zero sockid
_FAMILY_REQ = struct.Struct("=BBHIII II")  # unix_diag_req and vsock_diag_req: same layout
_PACKET_REQ = struct.Struct("=BBHII II")


def _inet(family: int, protocol: int) -> bytes:
    if protocol <= 255:
        return _INET_REQ.pack(family, protocol, 0, 0, 0)
    # iproute2 misc/ss.c sockdiag_send: the u8 field gets the low byte, the attribute the rest.
    return (_INET_REQ.pack(family, protocol & 0xFF, 0, 0, 0)
            + RTATTR.pack(8, INET_DIAG_REQ_PROTOCOL) + struct.pack("=I", protocol))


# kind -> the request payload that probes its handler
PAYLOADS = {
    "unix": _FAMILY_REQ.pack(AF_UNIX, 0, 0, 0, 0, 0, 0, 0),
    "packet": _PACKET_REQ.pack(AF_PACKET, 0, 0, 0, 0, 0, 0),
    "raw": _inet(AF_INET, IPPROTO_RAW),
    "raw6": _inet(AF_INET6, IPPROTO_RAW),
    "sctp": _inet(AF_INET, IPPROTO_SCTP),
    "sctp6": _inet(AF_INET6, IPPROTO_SCTP),
    "mptcp": _inet(AF_INET, IPPROTO_MPTCP),
    "mptcp6": _inet(AF_INET6, IPPROTO_MPTCP),
    "vsock": _FAMILY_REQ.pack(AF_VSOCK, 0, 0, 0, 0, 0, 0, 0),
    "ping": _inet(AF_INET, IPPROTO_ICMP),
    "ping6": _inet(AF_INET6, IPPROTO_ICMPV6),
}


def probe_request(kind: str) -> Request:
    """The probe of one kind (a key of ``PAYLOADS``); recorded as ``probe-<kind>``."""
    return Request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, PAYLOADS[kind], f"probe-{kind}")


def probe(source: NetlinkSource, kind: str) -> NetlinkError | None:
    """None when this kernel has a sock_diag handler for ``kind``, else the kernel's error
    (``errno`` ENOENT: no handler). ``BackendUnavailable`` (no netlink at all) propagates."""
    stats = DumpStats()
    request = probe_request(kind)
    try:
        for _ in iter_dump(source.dump(request), stats, f"sock_diag {kind}", whole=True):
            pass
    except NetlinkError as e:
        return e
    return None


def probe_all(source: NetlinkSource) -> dict[str, NetlinkError | None]:
    """``probe`` of every kind, in ``PAYLOADS`` order."""
    return {kind: probe(source, kind) for kind in PAYLOADS}

