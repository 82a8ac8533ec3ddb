"""AF_PACKET sockets from NETLINK_SOCK_DIAG (packet_diag, net/packet/diag.c).

Layouts, from ``include/uapi/linux/packet_diag.h``::

    struct packet_diag_req  { u8 sdiag_family, sdiag_protocol; u16 pad; u32 pdiag_ino,
                              pdiag_show; u32 pdiag_cookie[2]; }                  # 20 bytes
    struct packet_diag_msg  { u8 pdiag_family, pdiag_type; u16 pdiag_num; u32 pdiag_ino;
                              u32 pdiag_cookie[2]; }                              # 16 bytes
    struct packet_diag_info { u32 pdi_index, pdi_version, pdi_reserve, pdi_copy_thresh,
                              pdi_tstamp, pdi_flags; }                            # 24 bytes
    struct packet_diag_mclist { u32 pdmc_index, pdmc_count; u16 pdmc_type, pdmc_alen;
                                u8 pdmc_addr[MAX_ADDR_LEN = 32]; }                # 44 bytes
    struct packet_diag_ring { u32 pdr_block_size, pdr_block_nr, pdr_frame_size, pdr_frame_nr,
                              pdr_retire_tmo, pdr_sizeof_priv, pdr_features; }    # 28 bytes

``pdiag_num`` is the socket's protocol (ethertype), which the kernel keeps big-endian and
converts (``ntohs(po->num)``) before it sends it. The request's ``sdiag_protocol`` must be 0
(EINVAL otherwise); there is no state filter. Attributes, each when ``pdiag_show`` asks:
PACKET_DIAG_INFO and PACKET_DIAG_UID (both with PACKET_SHOW_INFO), PACKET_DIAG_MCLIST (the
memberships, ``packet_diag_mclist`` one after another with no attribute header each),
PACKET_DIAG_RX_RING / TX_RING (only when a ring is set up), PACKET_DIAG_FANOUT (u32: group id |
mode << 16, only in a fanout group), PACKET_DIAG_MEMINFO (u32 array, SK_MEMINFO_*),
PACKET_DIAG_FILTER (the attached classic BPF program, 8 bytes an instruction; absent when there
is none; empty, whatever is attached, for a requester without CAP_NET_ADMIN).
"""

from __future__ import annotations

import struct

from pynetstat.linux.diagmsg import SOCK_DIAG_BY_FAMILY, cookie, socket_messages, u32_attr
from pynetstat.linux.diagrecords import PacketRing, PacketSocket
from pynetstat.linux.netlink import NETLINK_SOCK_DIAG, Request, parse_attrs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.linux.netlink import DumpStats, Reply

AF_PACKET = 17

PACKET_SHOW_INFO = 0x01
PACKET_SHOW_MCLIST = 0x02
PACKET_SHOW_RING_CFG = 0x04
PACKET_SHOW_FANOUT = 0x08
PACKET_SHOW_MEMINFO = 0x10
PACKET_SHOW_FILTER = 0x20
DEFAULT_SHOW = (PACKET_SHOW_INFO | PACKET_SHOW_MCLIST | PACKET_SHOW_RING_CFG
                | PACKET_SHOW_FANOUT | PACKET_SHOW_MEMINFO | PACKET_SHOW_FILTER)

PACKET_DIAG_INFO = 0
PACKET_DIAG_MCLIST = 1
PACKET_DIAG_RX_RING = 2
PACKET_DIAG_TX_RING = 3
PACKET_DIAG_FANOUT = 4
PACKET_DIAG_UID = 5
PACKET_DIAG_MEMINFO = 6
PACKET_DIAG_FILTER = 7

PDI_RUNNING = 0x1
PDI_AUXDATA = 0x2
PDI_ORIGDEV = 0x4
PDI_VNETHDR = 0x8
PDI_LOSS = 0x10

# include/uapi/linux/if_packet.h: membership types of PACKET_ADD_MEMBERSHIP
PACKET_MR_MULTICAST = 0
PACKET_MR_PROMISC = 1
PACKET_MR_ALLMULTI = 2
PACKET_MR_UNICAST = 3
# include/uapi/linux/if_packet.h: fanout modes
FANOUT_MODE_NAMES = {0: "hash", 1: "lb", 2: "cpu", 3: "rollover", 4: "rnd", 5: "qm", 6: "cbpf",
                     7: "ebpf"}

REQUEST_KEY = "sock_diag-packet"

_REQ = struct.Struct("=BBHII II")
_MSG = struct.Struct("=BBHI")  # family, type, protocol, inode; then the cookie
MSG_SIZE = 16
_INFO = struct.Struct("=6I")
_MCLIST = struct.Struct("=IIHH32s")
_RING = struct.Struct("=7I")
_SOCK_FILTER_SIZE = 8  # struct sock_filter, include/uapi/linux/filter.h


def build_request(show: int = DEFAULT_SHOW) -> Request:
    """A dump of every packet socket of this network namespace, with what ``show`` asks for."""
    return Request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY,
                   _REQ.pack(AF_PACKET, 0, 0, 0, show, 0, 0), REQUEST_KEY)


def _memberships(buf: bytes, where: tuple[int, int]) -> tuple[tuple[int, int, int, bytes], ...]:
    """``(ifindex, type, count, address)`` of each ``packet_diag_mclist``; the address is cut
    to its length (``pdmc_alen``, at most 32)."""
    off, length = where
    out = []
    for at in range(off, off + length - _MCLIST.size + 1, _MCLIST.size):
        index, count, mtype, alen, addr = _MCLIST.unpack_from(buf, at)
        out.append((index, mtype, count, addr[:alen]))
    return tuple(out)


def _ring(buf: bytes, where: tuple[int, int] | None) -> PacketRing | None:
    if where is None or where[1] < _RING.size:
        return None
    (block_size, block_nr, frame_size, frame_nr, retire_tmo, sizeof_priv,
     features) = _RING.unpack_from(buf, where[0])
    return PacketRing(block_size=block_size, block_nr=block_nr, frame_size=frame_size,
                      frame_nr=frame_nr, retire_tmo=retire_tmo, sizeof_priv=sizeof_priv,
                      features=features)


def decode_message(buf: bytes, off: int, length: int, show: int = DEFAULT_SHOW) -> PacketSocket:
    """One ``packet_diag_msg`` and its attributes, from a request that asked for ``show``.

    With PACKET_SHOW_MCLIST asked, ``promiscuous`` is a bool (the kernel always sends the
    list, empty when there is none); with PACKET_SHOW_FANOUT and RING_CFG asked, an absent
    attribute means no fanout group, no ring.
    """
    _family, stype, protocol, inode = _MSG.unpack_from(buf, off)
    attrs = parse_attrs(buf, off + MSG_SIZE, off + length)
    get = attrs.get
    ifindex = version = reserve = copy_thresh = tstamp = flags = running = None
    where = get(PACKET_DIAG_INFO)
    if where is not None and where[1] >= _INFO.size:
        ifindex, version, reserve, copy_thresh, tstamp, flags = _INFO.unpack_from(buf, where[0])
        running = bool(flags & PDI_RUNNING)
    memberships = promiscuous = None
    where = get(PACKET_DIAG_MCLIST)
    if where is not None:
        memberships = _memberships(buf, where)
        promiscuous = any(m[1] == PACKET_MR_PROMISC for m in memberships)
    elif show & PACKET_SHOW_MCLIST:
        memberships, promiscuous = (), False
    fanout = None
    value = u32_attr(buf, get(PACKET_DIAG_FANOUT))
    if value is not None:
        fanout = (value & 0xFFFF, value >> 16)
    rmem = u32_attr(buf, get(PACKET_DIAG_MEMINFO))  # SK_MEMINFO_RMEM_ALLOC is the first word
    # sock_diag_put_filterinfo: without CAP_NET_ADMIN an empty attribute (not reported); with
    # it, the classic program, or nothing when there is none (or only an eBPF program).
    filter_len = None
    where = get(PACKET_DIAG_FILTER)
    if where is not None:
        if where[1]:
            filter_len = where[1] // _SOCK_FILTER_SIZE
    elif show & PACKET_SHOW_FILTER:
        filter_len = 0
    return PacketSocket(type=stype, protocol=protocol, inode=inode, cookie=cookie(buf, off + 8),
                        ifindex=ifindex, running=running, uid=u32_attr(buf, get(PACKET_DIAG_UID)),
                        promiscuous=promiscuous, memberships=memberships, fanout=fanout,
                        rx_ring=_ring(buf, get(PACKET_DIAG_RX_RING)),
                        tx_ring=_ring(buf, get(PACKET_DIAG_TX_RING)), version=version,
                        reserve=reserve, copy_thresh=copy_thresh, tstamp=tstamp, flags=flags,
                        rmem=rmem, filter_len=filter_len, verified=True)


def decode_dump(reply: Reply, stats: DumpStats, show: int = DEFAULT_SHOW) -> Iterator[PacketSocket]:
    """Every socket of a packet_diag dump (asked for with ``show``), in kernel order."""
    for buf, off, length in socket_messages(reply, stats, "sock_diag packet", AF_PACKET, MSG_SIZE):
        yield decode_message(buf, off, length, show)
