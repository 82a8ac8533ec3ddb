"""Records of the UNIX, packet, RAW and ping sockets: one class per kind, filled alike by the
sock_diag decoders (``unixdiag``, ``packetdiag``, ``rawdiag``) and the /proc parsers
(``procfs_other``), so that nothing downstream knows which source it was.

They live here until the field table (``model/fields.py``) derives records; the names of their
fields are meant to become its rows. Constructors are keyword-only (a record of fifteen ints
built positionally is a bug waiting to happen) and explicit (a ``**kwargs`` loop costs three
times as much, and a host may hold 200,000 UNIX sockets).

Conventions every kind shares:

* ``None`` means "this source does not say" (e.g. /proc/net/unix has no queues); a value means
  the kernel said so. ``verified`` is True only for records decoded from sock_diag, whose fields
  the kernel wrote in binary; /proc text can be forged (see ``UnixSocket``).
* ``cookie`` is the kernel's 64-bit socket cookie (sock_diag only); ``inode`` the socket's inode.
"""

from __future__ import annotations

# include/linux/net.h (enum sock_type)
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
SOCK_SEQPACKET = 5
SOCK_TYPE_NAMES = {SOCK_STREAM: "stream", SOCK_DGRAM: "dgram", SOCK_RAW: "raw",
                   SOCK_SEQPACKET: "seqpacket"}

# What net-tools netstat prints in the State column of a UNIX socket, by the socket's sk_state
# (include/net/tcp_states.h numbers; af_unix uses ESTABLISHED, LISTEN and CLOSE). An unconnected
# socket prints nothing there.
UNIX_STATE_NAMES = {1: "CONNECTED", 2: "CONNECTING", 7: "", 10: "LISTENING"}


class _Record:
    """Equality, ``repr`` and ``as_dict`` over ``__slots__``."""

    __slots__: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"{type(self).__name__}({fields})"


class UnixSocket(_Record):
    """One AF_UNIX socket.

    ``type`` is ``SOCK_STREAM``, ``SOCK_DGRAM`` or ``SOCK_SEQPACKET``; ``state`` the socket's
    ``sk_state`` (1 connected, 10 listening, 7 unconnected). ``name`` is the bound name as bytes
    with no terminating or leading NUL, or None when unbound; ``abstract`` says which namespace it
    lives in: True for an abstract name (the kernel's ``sun_path`` starts with a NUL; show it as
    ``@name``), False for a filesystem path (which may itself start with ``@``), None when the
    source cannot tell: /proc/net/unix prints both with a leading ``@``.
    ``peer`` is the inode of the socket at the other end, 0 when there is none, None when the
    source does not say. ``rqueue``/``wqueue`` are as unix_diag gives them: bytes (stream) or
    datagrams queued; for a listener, connections waiting to be accepted and the backlog limit
    (``backlog`` repeats that limit for listeners and is None otherwise). ``icons`` are the
    inodes of the clients waiting in a listener's accept queue. ``vfs`` is ``(inode, dev)`` of
    the file a path is bound to. ``shutdown`` is the ``sk_shutdown`` mask (1 read, 2 write).
``meminfo`` is the ``SK_MEMINFO_*`` array, when a view asked for it.

    ``duplicate`` is True when another line of the same /proc/net/unix names this inode: a name
    holding a newline and a forged line (any user may bind such an abstract name), or a forged
    line naming a real socket. Neither line can be believed; unix_diag never has this problem.
    """

    __slots__ = ("type", "state", "inode", "cookie", "name", "abstract", "peer", "rqueue",
                 "wqueue", "backlog", "uid", "icons", "vfs", "shutdown", "meminfo", "verified",
                 "duplicate")

    def __init__(self, *, type: int, state: int, inode: int, name: bytes | None,
                 abstract: bool | None, cookie: int | None = None, peer: int | None = None,
                 rqueue: int | None = None, wqueue: int | None = None,
                 backlog: int | None = None, uid: int | None = None,
                 icons: tuple[int, ...] | None = None, vfs: tuple[int, int] | None = None,
                 shutdown: int | None = None, meminfo: tuple[int, ...] | None = None,
                 verified: bool, duplicate: bool = False):
        self.type = type
        self.state = state
        self.inode = inode
        self.cookie = cookie
        self.name = name
        self.abstract = abstract
        self.peer = peer
        self.rqueue = rqueue
        self.wqueue = wqueue
        self.backlog = backlog
        self.uid = uid
        self.icons = icons
        self.vfs = vfs
        self.shutdown = shutdown
        self.meminfo = meminfo
        self.verified = verified
        self.duplicate = duplicate


class PacketRing(_Record):
    """A PACKET_RX_RING or PACKET_TX_RING as ``struct packet_diag_ring`` describes it
    (include/uapi/linux/packet_diag.h); the last three are 0 below TPACKET_V3."""

    __slots__ = ("block_size", "block_nr", "frame_size", "frame_nr", "retire_tmo",
                 "sizeof_priv", "features")

    def __init__(self, *, block_size: int, block_nr: int, frame_size: int, frame_nr: int,
                 retire_tmo: int, sizeof_priv: int, features: int):
        self.block_size = block_size
        self.block_nr = block_nr
        self.frame_size = frame_size
        self.frame_nr = frame_nr
        self.retire_tmo = retire_tmo
        self.sizeof_priv = sizeof_priv
        self.features = features


class PacketSocket(_Record):
    """One AF_PACKET socket.

    ``type`` is ``SOCK_RAW`` (whole frames) or ``SOCK_DGRAM`` (link header removed).
    ``protocol`` is the ethertype it receives as a number (the kernel keeps it big-endian and
    reports it converted: 0x0003 ETH_P_ALL, 0x0800 IPv4; 0 receives nothing until bound).
    ``ifindex`` is the interface it is bound to, 0 for all. ``running`` says it is hooked into
    the receive path. ``promiscuous`` is True when one of its memberships is
    ``PACKET_MR_PROMISC`` (None: the source does not list memberships); ``memberships`` lists
    them as ``(ifindex, type, count, address)``. ``fanout`` is ``(group id, mode)``;
    ``rx_ring``/``tx_ring`` are ``PacketRing``. ``version`` (TPACKET_V1 = 0), ``reserve``,
    ``copy_thresh``, ``tstamp`` and ``flags`` (``PDI_*``) come from ``struct packet_diag_info``.
    ``rmem`` is the memory its receive queue holds (what ss shows as Recv-Q); ``filter_len``
    the number of classic BPF instructions attached (0: none, or an eBPF program only), None
    when not reported (it is only reported to CAP_NET_ADMIN; /proc never says).
    """

    __slots__ = ("type", "protocol", "inode", "cookie", "ifindex", "running", "uid",
                 "promiscuous", "memberships", "fanout", "rx_ring", "tx_ring", "version",
                 "reserve", "copy_thresh", "tstamp", "flags", "rmem", "filter_len", "verified")

    def __init__(self, *, type: int, protocol: int, inode: int, ifindex: int | None,
                 running: bool | None, uid: int | None, cookie: int | None = None,
                 promiscuous: bool | None = None,
                 memberships: tuple[tuple[int, int, int, bytes], ...] | None = None,
                 fanout: tuple[int, int] | None = None, rx_ring: PacketRing | None = None,
                 tx_ring: PacketRing | None = None, version: int | None = None,
                 reserve: int | None = None, copy_thresh: int | None = None,
                 tstamp: int | None = None, flags: int | None = None, rmem: int | None = None,
                 filter_len: int | None = None, verified: bool):
        self.type = type
        self.protocol = protocol
        self.inode = inode
        self.cookie = cookie
        self.ifindex = ifindex
        self.running = running
        self.uid = uid
        self.promiscuous = promiscuous
        self.memberships = memberships
        self.fanout = fanout
        self.rx_ring = rx_ring
        self.tx_ring = tx_ring
        self.version = version
        self.reserve = reserve
        self.copy_thresh = copy_thresh
        self.tstamp = tstamp
        self.flags = flags
        self.rmem = rmem
        self.filter_len = filter_len
        self.verified = verified


class RawSocket(_Record):
    """One SOCK_RAW socket of AF_INET (``family`` 4) or AF_INET6 (6).

    ``protocol`` is the IP protocol it was opened with (1 ICMP, 58 ICMPv6, 255 IPPROTO_RAW, or
    any other). Addresses are numeric text; ``remote_address`` is the wildcard unless it is
    connected. ``ifindex`` is the device it is bound to (SO_BINDTODEVICE; 0 none), None from
    /proc, which does not print it. Queues are the memory allocated to each direction, as the
    kernel reports them for raw sockets. ``drops`` is /proc only.
    """

    __slots__ = ("family", "protocol", "state", "local_address", "remote_address", "ifindex",
                 "inode", "cookie", "uid", "rqueue", "wqueue", "drops", "verified")

    def __init__(self, *, family: int, protocol: int, state: int, local_address: str,
                 remote_address: str, ifindex: int | None, inode: int, uid: int, rqueue: int,
                 wqueue: int, cookie: int | None = None, drops: int | None = None,
                 verified: bool):
        self.family = family
        self.protocol = protocol
        self.state = state
        self.local_address = local_address
        self.remote_address = remote_address
        self.ifindex = ifindex
        self.inode = inode
        self.cookie = cookie
        self.uid = uid
        self.rqueue = rqueue
        self.wqueue = wqueue
        self.drops = drops
        self.verified = verified


class PingSocket(_Record):
    """One ICMP "ping" socket (``socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)``, or ICMPv6), from
    /proc/net/icmp or icmp6: no kernel has a sock_diag handler for them.

    ``ident`` is the ICMP echo identifier the kernel gave it (printed as the local port), 0 until
    it is bound or has sent. The rest is as for ``RawSocket``.
    """

    __slots__ = ("family", "state", "local_address", "ident", "remote_address", "inode", "uid",
                 "rqueue", "wqueue", "drops", "verified")

    def __init__(self, *, family: int, state: int, local_address: str, ident: int,
                 remote_address: str, inode: int, uid: int, rqueue: int, wqueue: int,
                 drops: int | None = None, verified: bool):
        self.family = family
        self.state = state
        self.local_address = local_address
        self.ident = ident
        self.remote_address = remote_address
        self.inode = inode
        self.uid = uid
        self.rqueue = rqueue
        self.wqueue = wqueue
        self.drops = drops
        self.verified = verified


class VsockSocket(_Record):
    """One AF_VSOCK socket (virtio-vsock, VMCI, Hyper-V, loopback): ``type`` SOCK_STREAM 1,
    SOCK_DGRAM 2 or SOCK_SEQPACKET 5; ``state`` its ``sk_state`` in TCP's numbering (LISTEN,
    ESTABLISHED, SYN_SENT while connecting, CLOSE); ``shutdown`` RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2;
    ends as (CID, port), 4294967295 for VMADDR_CID_ANY / VMADDR_PORT_ANY. vsock_diag gives no
    uid and no queues."""

    __slots__ = ("type", "state", "shutdown", "local_cid", "local_port", "remote_cid",
                 "remote_port", "inode", "cookie")

    def __init__(self, *, type: int, state: int, shutdown: int, local_cid: int, local_port: int,
                 remote_cid: int, remote_port: int, inode: int, cookie: int):
        self.type = type
        self.state = state
        self.shutdown = shutdown
        self.local_cid = local_cid
        self.local_port = local_port
        self.remote_cid = remote_cid
        self.remote_port = remote_port
        self.inode = inode
        self.cookie = cookie
