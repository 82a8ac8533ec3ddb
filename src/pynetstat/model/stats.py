"""Typed records for -s (protocol counters), -e (interface counters) and -r (routes).

Netlink and /proc fill the same records; renderers never know which it was. A count the source
does not keep is ``None`` ("not available"), never 0. Slotted classes, not dataclasses: see
``model/sockets.py`` for why (start-up time).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class ProtocolCounters:
    """The kernel's SNMP-style counters, as ``{group: {name: value}}`` with the kernel's names.

    Groups are the line prefixes of /proc/net/snmp and /proc/net/netstat (``"Ip"``, ``"Tcp"``,
    ``"TcpExt"``...) and the name prefixes of /proc/net/snmp6 (``"Ip6"``, ``"Icmp6"``, ``"Udp6"``).
    ``files`` names the files read; ``missing`` those that do not exist here (a kernel without
    IPv6 has no /proc/net/snmp6).
    """

    __slots__ = ("groups", "files", "missing")

    def __init__(self, groups: dict[str, dict[str, int]], files: list[str], missing: list[str]):
        self.groups = groups
        self.files = files
        self.missing = missing

    def get(self, group: str, name: str) -> int | None:
        """One counter, or ``None`` when this kernel does not have it."""
        values = self.groups.get(group)
        return None if values is None else values.get(name)


# Values that are settings or current levels, not counters that only grow: the interval mode
# must not take deltas of them. Names from RFC 4293 / RFC 4022 and net/mptcp/mib.c.
GAUGES = frozenset({
    "Ip.Forwarding", "Ip.DefaultTTL",
    "Tcp.RtoAlgorithm", "Tcp.RtoMin", "Tcp.RtoMax", "Tcp.MaxConn", "Tcp.CurrEstab",
    "MPTcpExt.MPCurrEstab",
})


def monotonic_counters(groups: dict[str, dict[str, int]]) -> dict[str, int]:
    """Flatten to ``{"Group.Name": value}``, leaving out the GAUGES (they do not only grow).

    >>> monotonic_counters({"Tcp": {"MaxConn": -1, "ActiveOpens": 16}})
    {'Tcp.ActiveOpens': 16}
    """
    flat = {}
    for group, values in groups.items():
        for name, value in values.items():
            key = f"{group}.{name}"
            if key not in GAUGES:
                flat[key] = value
    return flat


# struct rtnl_link_stats64, include/uapi/linux/if_link.h, in the kernel's order. Kernels before
# 4.6 stop after tx_compressed, before 5.19 after rx_nohandler: missing tail fields stay None.
LINK_STAT_FIELDS = (
    "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
    "rx_dropped", "tx_dropped", "multicast", "collisions",
    "rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors",
    "rx_fifo_errors", "rx_missed_errors",
    "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors", "tx_heartbeat_errors",
    "tx_window_errors", "rx_compressed", "tx_compressed", "rx_nohandler", "rx_otherhost_dropped",
)


class LinkStats:
    """One interface's counters (``rtnl_link_stats64`` names); ``None`` where the source has none."""

    __slots__ = LINK_STAT_FIELDS
    if TYPE_CHECKING:  # the slots' types, for the type checker (tests/test_typing.py: one per field)
        rx_packets: int | None
        tx_packets: int | None
        rx_bytes: int | None
        tx_bytes: int | None
        rx_errors: int | None
        tx_errors: int | None
        rx_dropped: int | None
        tx_dropped: int | None
        multicast: int | None
        collisions: int | None
        rx_length_errors: int | None
        rx_over_errors: int | None
        rx_crc_errors: int | None
        rx_frame_errors: int | None
        rx_fifo_errors: int | None
        rx_missed_errors: int | None
        tx_aborted_errors: int | None
        tx_carrier_errors: int | None
        tx_fifo_errors: int | None
        tx_heartbeat_errors: int | None
        tx_window_errors: int | None
        rx_compressed: int | None
        tx_compressed: int | None
        rx_nohandler: int | None
        rx_otherhost_dropped: int | None

    def __init__(self, values: Mapping[str, int | None] | None = None):
        for name in LINK_STAT_FIELDS:
            setattr(self, name, None)
        if values:
            for name, value in values.items():
                setattr(self, name, value)

    def as_dict(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in LINK_STAT_FIELDS}


class Interface:
    """A network interface. ``index`` and ``hw_address`` are ``None`` when the source lacks them
    (/proc/net/dev has neither); ``hw_address`` is ``"02:fc:00:00:00:01"`` style."""

    __slots__ = ("index", "name", "hw_address", "stats")

    def __init__(self, index: int | None, name: str, hw_address: str | None,
                 stats: LinkStats | None):
        self.index = index
        self.name = name
        self.hw_address = hw_address
        self.stats = stats


# Names from include/uapi/linux/rtnetlink.h (the same words `ip route` prints).
ROUTE_TYPES = {0: "unspec", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast",
               5: "multicast", 6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw",
               10: "nat", 11: "xresolve"}
ROUTE_TABLES = {0: "unspec", 252: "compat", 253: "default", 254: "main", 255: "local"}
ROUTE_SCOPES = {0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
ROUTE_PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static",
                   8: "gated", 9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted",
                   14: "xorp", 15: "ntk", 16: "dhcp", 17: "mrouted", 18: "keepalived",
                   42: "babel", 99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip",
                   192: "eigrp"}
RT_TABLE_MAIN = 254


def code_name(names: Mapping[int, str], code: int) -> str:
    """``code_name(ROUTE_TABLES, 254) -> "main"``; an unnamed code prints as its number."""
    return names.get(code, str(code))


def optional_code_name(names: Mapping[int, str], code: int | None) -> str | None:
    """``code_name`` of a code the source may lack (``None`` stays ``None``)."""
    return None if code is None else code_name(names, code)


class NextHop:
    """One path of a route: a gateway (``None`` when on-link) and an interface.

    ``nexthop_id`` is the kernel nexthop object this path is (``ip nexthop``), ``None`` for a
    route that carries its path itself. A path whose object could not be read has an id and
    neither gateway nor interface. ``gateway`` is text of its own family: an IPv4 route may go
    through an IPv6 gateway (RFC 5549).
    """

    __slots__ = ("gateway", "ifindex", "ifname", "weight", "nexthop_id")

    def __init__(self, gateway: str | None, ifindex: int | None, ifname: str | None,
                 weight: int = 1, nexthop_id: int | None = None):
        self.gateway = gateway
        self.ifindex = ifindex
        self.ifname = ifname
        self.weight = weight
        self.nexthop_id = nexthop_id

    @property
    def unresolved(self) -> bool:
        """A nexthop object's path whose gateway and interface could not be read."""
        return self.nexthop_id is not None and self.gateway is None and self.ifindex is None \
            and self.ifname is None


class Route:
    """One route. ``family`` is 4 or 6; ``destination`` a numeric address, ``prefix_len`` its length.

    ``nexthops`` has one entry for a plain route, several for a multipath (ECMP) route, none for
    a route that goes nowhere (blackhole, unreachable, prohibit). ``table``, ``type``, ``scope``
    and ``protocol`` are the kernel's codes (see ``ROUTE_*``); ``table`` is ``None`` when the
    source does not say (/proc/net/ipv6_route). ``metric`` is RTA_PRIORITY (0 when absent, as
    the kernel treats it). ``nexthop_id`` is RTA_NH_ID: the nexthop object or group the route
    names (``ip route add ... nhid N``), whose paths ``linux/nexthop.py`` puts in ``nexthops``.
    """

    __slots__ = ("family", "table", "destination", "prefix_len", "nexthops", "metric", "type",
                 "scope", "protocol", "prefsrc", "nexthop_id")

    def __init__(self, family: int, table: int | None, destination: str, prefix_len: int,
                 nexthops: list[NextHop], metric: int, type: int, scope: int | None = None,
                 protocol: int | None = None, prefsrc: str | None = None,
                 nexthop_id: int | None = None):
        self.family = family
        self.table = table
        self.destination = destination
        self.prefix_len = prefix_len
        self.nexthops = nexthops
        self.metric = metric
        self.type = type
        self.scope = scope
        self.protocol = protocol
        self.prefsrc = prefsrc
        self.nexthop_id = nexthop_id

    @property
    def netmask(self) -> str | None:
        """``prefix_len`` 24 -> ``"255.255.255.0"`` (IPv4 only; IPv6 writes ``/len``)."""
        if self.family != 4:
            return None
        bits = (0xFFFFFFFF << (32 - self.prefix_len)) & 0xFFFFFFFF
        return ".".join(str((bits >> shift) & 0xFF) for shift in (24, 16, 8, 0))


# --- what the collectors give (linux/links.py, routes.py, counters.py) --------------------------
# One failure policy: a source that could not be read is a line in ``notes`` (and, where a view
# shows nothing in its place, a ``None`` source with the reason), never an exception, so that one
# broken source cannot end a display that combines several views.

class LinksSnapshot:
    """Interfaces with their counters. ``source`` is ``"netlink"``, ``"procfs"`` or ``None``
    (neither could be read); ``fallback_reason`` says why netlink was not used (and, with no
    source, why /proc/net/dev was not either)."""

    __slots__ = ("interfaces", "source", "fallback_reason", "notes")

    def __init__(self, interfaces: list[Interface], source: str | None,
                 fallback_reason: str | None, notes: list[str] | None = None):
        self.interfaces = interfaces
        self.source = source
        self.fallback_reason = fallback_reason
        self.notes = notes or []


class RoutesSnapshot:
    """Interfaces and routes of both families. ``sources`` maps ``"links"``, ``4`` and ``6`` to
    ``"netlink"``, ``"procfs"`` or ``None`` (not available: a kernel without IPv6); ``reasons``
    keeps why a source was passed over."""

    __slots__ = ("interfaces", "routes", "sources", "reasons", "notes")

    def __init__(self, interfaces: list[Interface], routes: list[Route], sources: dict[int | str, Any],
                 reasons: dict[int | str, Any], notes: list[str] | None = None):
        self.interfaces = interfaces
        self.routes = routes
        self.sources = sources
        self.reasons = reasons
        self.notes = notes or []


class CountersSnapshot:
    """The kernel's protocol counters and where they came from (always ``"procfs"``);
    ``unreadable`` maps each counter file that exists but could not be read or parsed to why."""

    __slots__ = ("counters", "source", "unreadable", "notes")

    def __init__(self, counters: ProtocolCounters, source: str = "procfs",
                 unreadable: dict[str, str] | None = None, notes: list[str] | None = None):
        self.counters = counters
        self.source = source
        self.unreadable = unreadable or {}
        self.notes = notes or []
