"""Nexthop objects (RTM_GETNEXTHOP, Linux 5.3+) and the routes that name them (RTA_NH_ID).

A route added as ``ip route add PREFIX nhid N`` points at a nexthop object or a group of them.
With ``net.ipv4.nexthop_compat_mode=0`` (per network namespace; it covers IPv6 too) the route
message carries only RTA_NH_ID, so the path must be read from the nexthop table. Layouts, from
include/uapi/linux/nexthop.h::

    struct nhmsg       { u8 family, scope, protocol, resvd; u32 flags; }                 # 8 bytes
    struct nexthop_grp { u32 id; u8 weight; u8 weight_high; u16 resvd2; }               # 8 bytes

A group's weight is stored minus one, its high byte in ``weight_high`` (16-bit weights, Linux
6.12; older kernels leave that byte 0): weight = ((weight_high << 8) | weight) + 1, as iproute2's
ip/ipnexthop.c prints it. A nexthop's NHA_GATEWAY is of the nexthop's own family, which may differ
from the route's (an IPv4 route through an IPv6 gateway, RFC 5549): its length tells which.
"""

from __future__ import annotations

import struct
from _socket import AF_INET, AF_INET6, inet_ntop

from pynetstat.linux.netlink import NETLINK_ROUTE, Request, iter_dump, parse_attrs
from pynetstat.model.stats import NextHop

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.linux.netlink import DumpStats, Reply
    from pynetstat.model.stats import Route

RTM_NEWNEXTHOP = 104
RTM_GETNEXTHOP = 106

NHA_ID = 1
NHA_GROUP = 2
NHA_BLACKHOLE = 4
NHA_OIF = 5
NHA_GATEWAY = 6

NHMSG = struct.Struct("=BBBBI")
NEXTHOP_GRP = struct.Struct("=IBBH")
_U32 = struct.Struct("=I")
NEXTHOP_KEY = "rtnl-nexthop"
_GATEWAY_AF = {4: AF_INET, 16: AF_INET6}


class NexthopObject:
    """One entry of the kernel's nexthop table: a path (gateway and/or device), a blackhole, or a
    group of other entries as ``[(id, weight)]``. An FDB nexthop (NHA_FDB) is a path too; no
    route can use one."""

    __slots__ = ("id", "gateway", "ifindex", "blackhole", "group")

    def __init__(self, nh_id: int, gateway: str | None = None, ifindex: int | None = None,
                 blackhole: bool = False, group: list[tuple[int, int]] | None = None):
        self.id = nh_id
        self.gateway = gateway
        self.ifindex = ifindex
        self.blackhole = blackhole
        self.group = group


def nexthop_request() -> Request:
    """RTM_GETNEXTHOP dump of every nexthop object (family AF_UNSPEC); recorded as
    ``rtnl-nexthop``. A kernel before 5.3 answers EOPNOTSUPP (or EINVAL)."""
    return Request(NETLINK_ROUTE, RTM_GETNEXTHOP, NHMSG.pack(0, 0, 0, 0, 0), NEXTHOP_KEY)


def decode_nexthops(reply: Reply, stats: DumpStats, whole: bool = False,
                    ) -> Iterator[NexthopObject]:
    """Nexthop objects of an RTM_GETNEXTHOP dump; one without NHA_ID counts as malformed.

    ``id 10 via 10.9.0.2 dev v1`` gives ``NexthopObject(10, "10.9.0.2", <v1's index>)``;
    ``id 20 group 10,3/11`` gives ``NexthopObject(20, group=[(10, 3), (11, 1)])``.
    """
    for chunk, mtype, off, length in iter_dump(reply, stats, NEXTHOP_KEY, whole):
        if mtype != RTM_NEWNEXTHOP or length < NHMSG.size:
            continue
        attrs = parse_attrs(chunk, off + NHMSG.size, off + length)
        where = attrs.get(NHA_ID)
        if where is None or where[1] < 4:
            stats.malformed += 1
            continue
        obj = NexthopObject(_U32.unpack_from(chunk, where[0])[0], blackhole=NHA_BLACKHOLE in attrs)
        where = attrs.get(NHA_GROUP)
        if where is not None:
            obj.group = [(member, ((high << 8) | low) + 1) for member, low, high, _resvd
                         in NEXTHOP_GRP.iter_unpack(
                             chunk[where[0]:where[0] + where[1] - where[1] % NEXTHOP_GRP.size])]
        where = attrs.get(NHA_OIF)
        if where is not None and where[1] >= 4:
            obj.ifindex = _U32.unpack_from(chunk, where[0])[0] or None
        where = attrs.get(NHA_GATEWAY)
        if where is not None and where[1] in _GATEWAY_AF:
            obj.gateway = inet_ntop(_GATEWAY_AF[where[1]], chunk[where[0]:where[0] + where[1]])
        yield obj


def routes_needing_objects(routes: list[Route]) -> bool:
    """Does any route name a nexthop object? Only then is the nexthop table dumped."""
    return any(r.nexthop_id is not None for r in routes)


def resolve(routes: list[Route], objects: dict[int, NexthopObject] | None,
            names: dict[int, str]) -> list[Route]:
    """Give each route that names a nexthop object its paths from ``objects`` (``None``: the
    table could not be read); return the routes left without a path (what to say in a note).

    A group's members become the route's paths with their weights, as a multipath route's
    RTA_MULTIPATH would; a blackhole object leaves no path (the kernel then reports the route
    as type blackhole). A route the kernel sent with its paths as well (compat mode 1) keeps
    them when its object is missing; one with none gets a path with only the id.
    """
    known = objects if objects is not None else {}
    unresolved = []
    for route in routes:
        if route.nexthop_id is None:
            continue
        obj = known.get(route.nexthop_id)
        if obj is None:
            if not route.nexthops:
                route.nexthops = [NextHop(None, None, None, 1, route.nexthop_id)]
                unresolved.append(route)
            continue
        members = obj.group if obj.group is not None else [(obj.id, 1)]
        hops = []
        for member_id, weight in members:
            member = known.get(member_id)
            if member is None:
                hops.append(NextHop(None, None, None, weight, member_id))
            elif not member.blackhole:
                hops.append(NextHop(member.gateway, member.ifindex,
                                    names.get(member.ifindex) if member.ifindex else None,
                                    weight, member_id))
        if any(h.unresolved for h in hops):
            unresolved.append(route)
        route.nexthops = hops
    return unresolved
