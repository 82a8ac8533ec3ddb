"""sock_diag requests that name states, extensions or one socket, and a message-at-a-time reader.

The connection table's fast path (``sockdiag.decode_batches``) reads fixed-length messages by
column; a message that carries extension attributes is read here, one at a time, into a
``DiagMessage`` whose ``attrs`` go to ``diagext.decode_extensions``.

Layouts (include/uapi/linux/inet_diag.h, include/uapi/linux/sock_diag.h)::

    struct inet_diag_req_v2 { u8 family, protocol, ext, pad; u32 states; struct inet_diag_sockid id; }
    struct inet_diag_sockid { __be16 sport, dport; __be32 src[4], dst[4]; u32 if; u32 cookie[2]; }

``SOCK_DESTROY`` (21) takes the same request for one socket: the kernel looks it up by the
sockid (``inet_diag_find_one_icsk``: ``src``/``sport`` are the socket's local end) and, if the
cookie matches (or is ``INET_DIAG_NOCOOKIE``), aborts it: TCP sends a RST and the owner's next
call fails with ECONNABORTED (``tcp_abort``). It needs CAP_NET_ADMIN and a kernel built with
CONFIG_INET_DIAG_DESTROY; without it the kernel answers EOPNOTSUPP.
"""

from __future__ import annotations

import errno
import struct
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton

from pynetstat.errors import NetlinkError
from pynetstat.linux.netlink import (
    NETLINK_SOCK_DIAG,
    NLM_F_REQUEST,
    DumpStats,
    Request,
    iter_dump,
    parse_attrs,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.linux.netlink import NetlinkSource, Reply

SOCK_DIAG_BY_FAMILY = 20
SOCK_DESTROY = 21
NLM_F_ACK = 0x04
NLM_F_DUMP = 0x300
IPPROTO = {"tcp": 6, "udp": 17}
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
# include/net/tcp_states.h: TCP_BOUND_INACTIVE, a socket bound but never listening or connecting;
# sock_diag lists it only when this bit is asked for (Linux 6.8+; older kernels list nothing).
TCP_BOUND_INACTIVE = 13
STATE_BOUND = 1 << TCP_BOUND_INACTIVE

_REQ = struct.Struct("=BBBBI 2s2s16s16sIII")
# inet_diag_msg: family, state, timer, retrans, sport, dport, src, dst, if, cookie lo, cookie hi,
# expires, rqueue, wqueue, uid, inode
_MSG = struct.Struct("=BBBB 2s2s16s16sI II IIIII")
_PORT = struct.Struct(">H")


def _af(family: int) -> int:
    return AF_INET if family == 4 else AF_INET6


def _address(family: int, host: str) -> bytes:
    """An address as ``inet_diag_sockid`` holds it: 16 bytes, an IPv4 address in the first 4."""
    return inet_pton(_af(family), host).ljust(16, b"\0")


def diag_request(family: int, protocol: str, *, states: int, ext: int = 0,
                 local: tuple[str, int] | None = None, remote: tuple[str, int] | None = None,
                 ifindex: int = 0, cookie: int | None = None, msg_type: int = SOCK_DIAG_BY_FAMILY,
                 flags: int = NLM_F_REQUEST | NLM_F_DUMP, key: str | None = None) -> Request:
    """An ``inet_diag_req_v2``: a dump of ``states`` (bit ``1 << state``) with the ``ext``
    attributes (``diagext.EXT_*``), or, with ``local``/``remote``, a request about one socket."""
    src, sport = local or ("0.0.0.0" if family == 4 else "::", 0)
    dst, dport = remote or ("0.0.0.0" if family == 4 else "::", 0)
    if cookie is None:
        lo = hi = INET_DIAG_NOCOOKIE
    else:
        lo, hi = cookie & 0xFFFFFFFF, cookie >> 32
    payload = _REQ.pack(_af(family), IPPROTO[protocol], ext, 0, states, _PORT.pack(sport),
                        _PORT.pack(dport), _address(family, src), _address(family, dst),
                        ifindex, lo, hi)
    if key is None:
        key = f"sock_diag-{protocol}{'6' if family == 6 else ''}-ext{ext:02x}-states{states:08x}"
    return Request(NETLINK_SOCK_DIAG, msg_type, payload, key, flags)


def destroy_socket(family: int, protocol: str, local: tuple[str, int], remote: tuple[str, int],
                   *, cookie: int | None = None, ifindex: int = 0) -> Request:
    """A ``SOCK_DESTROY`` request for the socket with these ends (as the socket sees them:
    ``local`` is its own address). Give the ``cookie`` (``SO_COOKIE``, or a dump's) so that a
    new socket that took the same four-tuple is never the one closed. Run it with ``execute``."""
    return diag_request(family, protocol, states=0xFFFFFFFF, local=local, remote=remote,
                        ifindex=ifindex, cookie=cookie, msg_type=SOCK_DESTROY,
                        flags=NLM_F_REQUEST | NLM_F_ACK, key=f"sock_destroy-{protocol}")


def query_socket(source: NetlinkSource, family: int, protocol: str, local: tuple[str, int],
                 remote: tuple[str, int], *, cookie: int | None, ext: int,
                 ifindex: int = 0) -> DiagMessage | None:
    """One socket's ``inet_diag_msg`` with the ``ext`` attributes, asked for by its ends and
    cookie (``inet_diag_dump_one_icsk``: no dump, the kernel looks the socket up); ``None`` when
    it is gone (ENOENT). The kernel answers with the message, then the ACK asked for."""
    request = diag_request(family, protocol, states=0xFFFFFFFF, ext=ext, local=local,
                           remote=remote, ifindex=ifindex, cookie=cookie,
                           flags=NLM_F_REQUEST | NLM_F_ACK, key=f"sock_diag-one-{protocol}")
    try:
        # read to the ACK: the netlink socket is shared, and what is left would meet the next
        # request
        found = list(iter_messages(source.dump(request), DumpStats(), request.key))
    except NetlinkError as e:
        if e.errno != errno.ENOENT:
            raise
        return None
    return found[0] if found else None


def execute(source: NetlinkSource, request: Request) -> None:
    """Send a request that the kernel answers with an ACK; ``NetlinkError`` carries its errno
    (ENOENT: no such socket; EOPNOTSUPP: no CONFIG_INET_DIAG_DESTROY; EPERM: no CAP_NET_ADMIN)."""
    stats = DumpStats()
    for _ in iter_dump(source.dump(request), stats, request.key):
        pass


class DiagMessage:
    """One ``inet_diag_msg`` and its attributes (``{type: payload bytes}``), decoded as is."""

    __slots__ = ("family", "state", "timer", "retrans", "expires", "local", "remote", "ifindex",
                 "cookie", "rqueue", "wqueue", "uid", "inode", "attrs")

    def __init__(self, *, family: int, state: int, timer: int, retrans: int, expires: int,
                 local: tuple[str, int], remote: tuple[str, int], ifindex: int, cookie: int,
                 rqueue: int, wqueue: int, uid: int, inode: int, attrs: dict[int, bytes]):
        self.family = family
        self.state = state
        self.timer = timer
        self.retrans = retrans
        self.expires = expires
        self.local = local
        self.remote = remote
        self.ifindex = ifindex
        self.cookie = cookie
        self.rqueue = rqueue
        self.wqueue = wqueue
        self.uid = uid
        self.inode = inode
        self.attrs = attrs

    def __repr__(self) -> str:
        return (f"DiagMessage(state={self.state}, local={self.local}, remote={self.remote}, "
                f"attrs={sorted(self.attrs)})")


def decode_message(buf: bytes, off: int, length: int) -> DiagMessage | None:
    """The ``inet_diag_msg`` at ``buf[off:off+length]`` (a message's payload), or ``None`` when
    it is too short to be one."""
    if length < _MSG.size:
        return None
    (af, state, timer, retrans, sport, dport, src, dst, ifindex, lo, hi, expires, rqueue,
     wqueue, uid, inode) = _MSG.unpack_from(buf, off)
    family = 4 if af == AF_INET else 6
    size = 4 if family == 4 else 16
    attrs = {atype: bytes(buf[at : at + alen])
             for atype, (at, alen) in parse_attrs(buf, off + _MSG.size, off + length).items()}
    return DiagMessage(family=family, state=state, timer=timer, retrans=retrans, expires=expires,
                       local=(inet_ntop(af, src[:size]), _PORT.unpack(sport)[0]),
                       remote=(inet_ntop(af, dst[:size]), _PORT.unpack(dport)[0]),
                       ifindex=ifindex, cookie=hi << 32 | lo, rqueue=rqueue, wqueue=wqueue,
                       uid=uid, inode=inode, attrs=attrs)


def iter_messages(reply: Reply, stats: DumpStats, what: str) -> Iterator[DiagMessage]:
    """Every socket message of a dump, one at a time (``NetlinkError`` on an error reply)."""
    for chunk, mtype, off, length in iter_dump(reply, stats, what):
        if mtype == SOCK_DIAG_BY_FAMILY:
            msg = decode_message(chunk, off, length)
            if msg is None:
                stats.malformed += 1
            else:
                yield msg
