"""Interfaces and routes from rtnetlink (RTM_GETLINK, RTM_GETROUTE), on the framing of ``netlink.py``.

Layouts, from include/uapi/linux/rtnetlink.h and if_link.h::

    struct ifinfomsg { u8 family, pad; u16 type; int index; u32 flags, change; }         # 16 bytes
    struct rtmsg     { u8 family, dst_len, src_len, tos, table, protocol, scope, type;
                       u32 flags; }                                                     # 12 bytes
    struct rtnexthop { u16 len; u8 flags, hops; int ifindex; }  + attributes            # 8 bytes
    struct rtvia     { u16 family; u8 addr[]; }

All host byte order; addresses in attributes are network order. The /proc fallbacks are pure
parsers at the end: ``parse_proc_dev``, ``parse_proc_route``, ``parse_proc_ipv6_route``.
"""

from __future__ import annotations

import struct
import sys
from _socket import AF_INET, AF_INET6, inet_ntop

from pynetstat.errors import BackendUnavailable, ParseError
from pynetstat.linux.netlink import NETLINK_ROUTE, DumpStats, Request, iter_dump, parse_attrs
from pynetstat.linux.procfs import dec_field, hex_field
from pynetstat.model.stats import (
    LINK_STAT_FIELDS,
    RT_TABLE_MAIN,
    Interface,
    LinkStats,
    NextHop,
    Route,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import TypeVar

    from pynetstat.linux.netlink import NetlinkSource, Reply

    Record = TypeVar("Record")
    Default = TypeVar("Default")

RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_STATS = 7
IFLA_STATS64 = 23

IFA_ADDRESS = 1  # include/uapi/linux/if_addr.h
IFA_LOCAL = 2

RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_PREFSRC = 7
RTA_MULTIPATH = 9
RTA_TABLE = 15
RTA_VIA = 18
RTA_NH_ID = 30  # the route names a nexthop object (linux/nexthop.py resolves it)

RTM_F_CLONED = 0x200  # a cached clone, not a configured route (`ip route` hides them too)

IFINFOMSG = struct.Struct("=BxHiII")
RTMSG = struct.Struct("=BBBBBBBBI")
RTNEXTHOP = struct.Struct("=HBBi")
IFADDRMSG = struct.Struct("=BBBBI")  # struct ifaddrmsg: family, prefixlen, flags, scope, index
_U32 = struct.Struct("=I")
_U16 = struct.Struct("=H")

LINK_KEY = "rtnl-link"
ADDR_KEY = "rtnl-addr"
ROUTE_KEYS = {4: "rtnl-route4", 6: "rtnl-route6"}
_AF = {4: AF_INET, 6: AF_INET6}
_ADDR_LEN = {4: 4, 6: 16}
DUMP_RETRIES = 3  # dumps asked again after the first when the kernel flags one inconsistent


def link_request() -> Request:
    """RTM_GETLINK dump of every interface (family AF_UNSPEC), recorded as ``rtnl-link``."""
    return Request(NETLINK_ROUTE, RTM_GETLINK, IFINFOMSG.pack(0, 0, 0, 0, 0), LINK_KEY)


def address_request() -> Request:
    """RTM_GETADDR dump of every address of every interface, recorded as ``rtnl-addr``."""
    return Request(NETLINK_ROUTE, RTM_GETADDR, IFADDRMSG.pack(0, 0, 0, 0, 0), ADDR_KEY)


def decode_addresses(reply: Reply, stats: DumpStats, whole: bool = False
                     ) -> Iterator[tuple[int, str]]:
    """``(ifindex, address text)`` from an RTM_GETADDR dump. An IPv4 address is IFA_LOCAL (on a
    point-to-point link IFA_ADDRESS is the peer's, include/uapi/linux/if_addr.h)."""
    for chunk, mtype, off, length in iter_dump(reply, stats, ADDR_KEY, whole):
        if mtype != RTM_NEWADDR or length < IFADDRMSG.size:
            continue
        af, _prefix, _flags, _scope, index = IFADDRMSG.unpack_from(chunk, off)
        family = 4 if af == AF_INET else 6 if af == AF_INET6 else None
        if family is None:
            continue
        attrs = parse_attrs(chunk, off + IFADDRMSG.size, off + length)
        address = _address(chunk, attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS), family)
        if address is not None:
            yield index, address


def route_request(family: int) -> Request:
    """RTM_GETROUTE dump of one family (4 or 6), every table; recorded as ``rtnl-route4``/``6``."""
    return Request(NETLINK_ROUTE, RTM_GETROUTE, RTMSG.pack(_AF[family], 0, 0, 0, 0, 0, 0, 0, 0),
                   ROUTE_KEYS[family])


def read_dump(netlink: NetlinkSource | None, request: Request,
              decode: Callable[[Reply, DumpStats], Iterable[Record]]
              ) -> tuple[list[Record], DumpStats]:
    """``decode(reply, stats)``'s records of one whole dump (the decoder's ``whole``: a reply
    that ends without NLMSG_DONE raises), and what the framing threw away.

    A dump the kernel flags NLM_F_DUMP_INTR (the table changed while it was walked: an entry may
    be missing or doubled, net/core/rtnetlink.c ``nl_dump_check_consistent``) is asked again, up
    to ``DUMP_RETRIES`` times, before it is used as it is; ``stats.interrupted`` then stays set
    and the caller says so. Errors are the source's (``BackendUnavailable``, ``OSError``).
    """
    if netlink is None:
        raise BackendUnavailable("netlink disabled")
    for _attempt in range(1 + DUMP_RETRIES):
        stats = DumpStats()
        records = list(decode(netlink.dump(request), stats))
        if not stats.interrupted:
            break
    return records, stats


def dump_losses(stats: DumpStats, what: str) -> list[str]:
    """The notes for what one dump lost, in the words the socket dumps use (run.notes)."""
    notes = []
    if stats.malformed or stats.foreign:
        notes.append(f"dropped {stats.malformed + stats.foreign} malformed netlink message(s) "
                     f"of the {what} dump")
    if stats.interrupted:
        notes.append(f"the kernel's {what} table changed while it was dumped (NLM_F_DUMP_INTR), "
                     f"and again on each of {DUMP_RETRIES} retries: an entry may be missing "
                     "or doubled")
    return notes


def decode_link_stats(buf: bytes, off: int, length: int, width: int) -> LinkStats:
    """``rtnl_link_stats64`` (width 8) or ``rtnl_link_stats`` (width 4), however many fields the
    kernel sent: an older kernel's shorter struct leaves the later fields ``None``."""
    count = min(length // width, len(LINK_STAT_FIELDS))
    values = struct.unpack_from(f"={count}{'Q' if width == 8 else 'I'}", buf, off)
    return LinkStats(dict(zip(LINK_STAT_FIELDS, values)))


def format_hw_address(raw: bytes) -> str:
    """``b"\\x02\\xfc\\x00\\x00\\x00\\x01" -> "02:fc:00:00:00:01"``."""
    return ":".join(f"{b:02x}" for b in raw)


def decode_links(reply: Reply, stats: DumpStats, whole: bool = False) -> Iterator[Interface]:
    """Interfaces from an RTM_GETLINK dump. IFLA_STATS64 is preferred; IFLA_STATS (32-bit,
    wraps at 4 GiB) only when a kernel sends no 64-bit block. ``whole``: see ``iter_dump``."""
    for chunk, mtype, off, length in iter_dump(reply, stats, LINK_KEY, whole):
        if mtype != RTM_NEWLINK or length < IFINFOMSG.size:
            continue
        index = IFINFOMSG.unpack_from(chunk, off)[2]
        attrs = parse_attrs(chunk, off + IFINFOMSG.size, off + length)
        name = _string(chunk, attrs.get(IFLA_IFNAME)) or f"if{index}"
        address = attrs.get(IFLA_ADDRESS)
        hw = format_hw_address(chunk[address[0]:address[0] + address[1]]) if address else None
        link_stats = None
        if IFLA_STATS64 in attrs:
            link_stats = decode_link_stats(chunk, *attrs[IFLA_STATS64], 8)
        elif IFLA_STATS in attrs:
            link_stats = decode_link_stats(chunk, *attrs[IFLA_STATS], 4)
        yield Interface(index, name, hw, link_stats)


def decode_routes(reply: Reply, family: int, names: dict[int, str], stats: DumpStats,
                  whole: bool = False) -> Iterator[Route]:
    """Routes of one family from an RTM_GETROUTE dump; ``names`` maps ifindex to name;
    ``whole``: see ``iter_dump``.

    Messages of another family are skipped: a kernel without IPv6 answers an AF_INET6 dump with
    ``rtnl_dump_all`` (net/core/rtnetlink.c falls back to PF_UNSPEC), i.e. the IPv4 routes.
    """
    want = _AF[family]
    for chunk, mtype, off, length in iter_dump(reply, stats, ROUTE_KEYS[family], whole):
        if mtype != RTM_NEWROUTE or length < RTMSG.size:
            continue
        af, dst_len, _src_len, _tos, table, proto, scope, rtype, flags = RTMSG.unpack_from(chunk, off)
        if af != want or flags & RTM_F_CLONED:
            continue
        if dst_len > 8 * _ADDR_LEN[family]:  # no kernel sends it; a netmask of it cannot be drawn
            stats.malformed += 1
            continue
        attrs = parse_attrs(chunk, off + RTMSG.size, off + length)
        table = _u32(chunk, attrs.get(RTA_TABLE), table)  # tables above 255
        dst = _address(chunk, attrs.get(RTA_DST), family) or ("0.0.0.0" if family == 4 else "::")
        metric = _u32(chunk, attrs.get(RTA_PRIORITY), 0)
        if RTA_MULTIPATH in attrs:
            hops = list(_nexthops(chunk, *attrs[RTA_MULTIPATH], family, names))
        elif RTA_OIF in attrs or RTA_GATEWAY in attrs or RTA_VIA in attrs:
            oif = _u32(chunk, attrs.get(RTA_OIF), None)
            hops = [NextHop(_gateway(chunk, attrs, family), oif, names.get(oif) if oif else None)]
        else:
            hops = []  # blackhole, unreachable, prohibit: no path at all
        # With net.ipv4.nexthop_compat_mode=0 a route through a nexthop object carries only
        # RTA_NH_ID (net/ipv4/fib_semantics.c fib_dump_info): ``hops`` stays empty until resolved.
        yield Route(family, table, dst, dst_len, hops, metric, rtype, scope, proto,
                    _address(chunk, attrs.get(RTA_PREFSRC), family),
                    _u32(chunk, attrs.get(RTA_NH_ID), None))


def _nexthops(buf: bytes, off: int, length: int, family: int, names: dict[int, str],
              ) -> Iterator[NextHop]:
    end = off + length
    while off + RTNEXTHOP.size <= end:
        rtnh_len, _flags, hops, ifindex = RTNEXTHOP.unpack_from(buf, off)
        if rtnh_len < RTNEXTHOP.size or off + rtnh_len > end:
            return  # a bad length ends the walk rather than looping
        attrs = parse_attrs(buf, off + RTNEXTHOP.size, off + rtnh_len)
        yield NextHop(_gateway(buf, attrs, family), ifindex or None,
                      names.get(ifindex) if ifindex else None, hops + 1)  # rtnh_hops is weight-1
        off += (rtnh_len + 3) & ~3


def _gateway(buf: bytes, attrs: dict[int, tuple[int, int]], family: int) -> str | None:
    if RTA_GATEWAY in attrs:
        return _address(buf, attrs[RTA_GATEWAY], family)
    via = attrs.get(RTA_VIA)  # an IPv4 route through an IPv6 next hop (RFC 5549)
    if via and via[1] >= 2:
        via_af = _U16.unpack_from(buf, via[0])[0]
        raw = buf[via[0] + 2:via[0] + via[1]]
        try:
            return inet_ntop(via_af, raw)
        except (ValueError, OSError):
            return None
    return None


def _u32(buf: bytes, where: tuple[int, int] | None, default: Default) -> int | Default:
    """A u32 attribute, or ``default`` when it is absent or shorter than 4 bytes (reading it
    anyway would take the next attribute's bytes, or run past the buffer)."""
    if where is None or where[1] < 4:
        return default
    value: int = _U32.unpack_from(buf, where[0])[0]
    return value


def _address(buf: bytes, where: tuple[int, int] | None, family: int) -> str | None:
    if where is None or where[1] < _ADDR_LEN[family]:
        return None
    return inet_ntop(_AF[family], buf[where[0]:where[0] + _ADDR_LEN[family]])


def _string(buf: bytes, where: tuple[int, int] | None) -> str | None:
    if where is None:
        return None
    # surrogateescape: an interface name is any bytes but '/', ':', white space and NUL; the
    # renderers escape what is not UTF-8 losslessly (docs/escaping.md).
    return buf[where[0]:where[0] + where[1]].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


# --- /proc fallbacks -------------------------------------------------------------------------

# /proc/net/dev columns (net/core/net-procfs.c, dev_seq_printf_stats). Some columns are sums of
# rtnl_link_stats64 fields: "frame" (four rx error kinds) and "carrier" (four tx error kinds) are
# dropped, their fields stay None. "drop" is rx_dropped + rx_missed_errors: it is kept as
# rx_dropped with rx_missed_errors None, and the -e Discards row adds the two for either source,
# so both give the same number.
_DEV_RX = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_fifo_errors", None,
           "rx_compressed", "multicast")
_DEV_TX = ("tx_bytes", "tx_packets", "tx_errors", "tx_dropped", "tx_fifo_errors", "collisions",
           None, "tx_compressed")


def parse_proc_dev(text: str, path: str = "/proc/net/dev") -> list[Interface]:
    """Interfaces from /proc/net/dev (no index, no hardware address: the file has neither).

    ``"    lo:    3193      29    0    0    0     0          0         0     3193      29 ..."``
    gives ``Interface(None, "lo", None, LinkStats(rx_bytes=3193, rx_packets=29, ...))``; the
    ``drop`` column includes rx_missed_errors (left ``None``).
    """
    interfaces = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if line_no <= 2 or not line.strip():
            continue  # two header lines
        name, sep, rest = line.partition(":")  # ':' is not allowed in interface names
        fields = rest.split()
        if not sep or len(fields) != 16 or not all(f.isascii() and f.isdigit() for f in fields):
            raise ParseError(path, line_no, line, "expected 'name: 16 counters'")
        values = {key: int(v) for key, v in zip(_DEV_RX + _DEV_TX, fields) if key}
        interfaces.append(Interface(None, name.strip(), None, LinkStats(values)))
    return interfaces


RTF_GATEWAY = 0x2
RTF_REJECT = 0x200
RTF_LOCAL = 0x80000000  # IPv6 only (include/uapi/linux/ipv6_route.h)
_RTN_UNICAST, _RTN_LOCAL, _RTN_UNREACHABLE = 1, 2, 7


def parse_proc_route(text: str, path: str = "/proc/net/route") -> list[Route]:
    """IPv4 routes of the main table (the only one this file shows, net/ipv4/fib_trie.c).

    Addresses are the ``__be32`` printed as a host-order ``%08X``, so on a little-endian
    machine ``"010200C0"`` is 192.0.2.1:

    ``"eth0\\t00000000\\t010200C0\\t0003\\t0\\t0\\t0\\t00000000\\t0\\t0\\t0"`` ->
    ``Route(4, 254, "0.0.0.0", 0, [NextHop("192.0.2.1", None, "eth0")], metric=0, unicast)``
    """
    routes = []
    for line_no, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if line_no == 1 or not fields:
            continue  # header
        try:
            if len(fields) != 11:
                raise ValueError
            dest, gateway, flags, metric, mask = (_ipv4_hex(fields[1]), _ipv4_hex(fields[2]),
                                                  hex_field(fields[3]), dec_field(fields[6]),
                                                  hex_field(fields[7]))
            if mask > 0xFFFFFFFF:  # more than 32 bits would make a prefix longer than /32
                raise ValueError
        except ValueError:
            raise ParseError(path, line_no, line, "expected 11 route fields") from None
        if flags & RTF_REJECT:  # unreachable/prohibit/blackhole; the device column shows "*"
            rtype, hops = _RTN_UNREACHABLE, []
        else:
            rtype, hops = _RTN_UNICAST, [NextHop(gateway if flags & RTF_GATEWAY else None,
                                                 None, fields[0])]
        routes.append(Route(4, RT_TABLE_MAIN, dest, bin(mask).count("1"), hops, metric, rtype))
    return routes


def parse_proc_ipv6_route(text: str, path: str = "/proc/net/ipv6_route") -> list[Route]:
    """IPv6 routes of every table from /proc/net/ipv6_route (which does not say which table).

    Fields: destination, prefix length, source, source length, next hop (32 and 2 hex digits
    each), metric, refcount, use, flags (8 hex digits each), device. So
    ``"fd00...00 40 0...0 00 0...0 00000100 00000001 00000000 00000001 eth0"`` is fd00::/64 on
    eth0, metric 256, no gateway (RTF_GATEWAY clear).

    The fib's root null entry (``::/0`` on lo, metric 0xffffffff, RTF_REJECT) is the tree's
    placeholder, not a route (`ip -6 route` never shows it), and is skipped.
    """
    routes = []
    for line_no, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) != 10:
                raise ValueError
            dest, plen = _ipv6_hex(fields[0]), hex_field(fields[1])
            nexthop, metric, flags = _ipv6_hex(fields[4]), hex_field(fields[5]), hex_field(fields[8])
            if plen > 128:
                raise ValueError
        except ValueError:
            raise ParseError(path, line_no, line, "expected 10 route fields") from None
        if flags & RTF_REJECT and metric == 0xFFFFFFFF and plen == 0 and fields[9] == "lo":
            continue
        if flags & RTF_LOCAL:
            rtype = _RTN_LOCAL
        elif flags & RTF_REJECT:
            rtype = _RTN_UNREACHABLE
        else:
            rtype = _RTN_UNICAST
        hop = NextHop(nexthop if flags & RTF_GATEWAY else None, None, fields[9])
        routes.append(Route(6, None, dest, plen, [hop], metric, rtype))
    return routes


def _ipv4_hex(text: str) -> str:
    """``"010200C0" -> "192.0.2.1"`` on a little-endian machine (memory order = network order)."""
    if len(text) != 8:
        raise ValueError(text)
    return inet_ntop(AF_INET, hex_field(text).to_bytes(4, sys.byteorder))


def _ipv6_hex(text: str) -> str:
    """``"fd000000000000000000000000000001" -> "fd00::1"``."""
    if len(text) != 32:
        raise ValueError(text)
    return inet_ntop(AF_INET6, bytes.fromhex(text))
