"""Routes of both families: RTM_GETROUTE dumps of every table, else /proc/net/route (main table
only) and /proc/net/ipv6_route (no table ids); and the interfaces they go through (``links``).

A family whose routes cannot be read from either source has no source in the snapshot and a
note, unless it is a kernel without IPv6 (its table is simply absent, which is no loss).
"""

from __future__ import annotations

from pynetstat.errors import BackendUnavailable, ParseError
from pynetstat.linux import links as links_mod
from pynetstat.linux import nexthop
from pynetstat.linux.rtnetlink import (
    decode_routes,
    dump_losses,
    parse_proc_ipv6_route,
    parse_proc_route,
    read_dump,
    route_request,
)
from pynetstat.model.stats import RoutesSnapshot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from pynetstat.linux.netlink import DumpStats, NetlinkSource, Reply
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.model.stats import Route
    from pynetstat.options import Options

_PROC_FILES = {4: "net/route", 6: "net/ipv6_route"}
_PROC_PARSERS = {4: parse_proc_route, 6: parse_proc_ipv6_route}
NO_IPV6 = "no IPv6 in this kernel"


def collect(opts: Options | None, procfs: ProcFS, netlink: NetlinkSource | None
            ) -> RoutesSnapshot:
    links = links_mod.collect(opts, procfs, netlink)
    names = {i.index: i.name for i in links.interfaces if i.index is not None}
    sources: dict[int | str, Any] = {"links": links.source}
    reasons: dict[int | str, Any] = {"links": links.fallback_reason} if links.fallback_reason else {}
    routes: list[Route] = []
    losses: list[str] = []
    for family in (4, 6):
        rel = _PROC_FILES[family]
        try:
            def decode(reply: Reply, stats: DumpStats, family: int = family) -> Iterator[Route]:
                return decode_routes(reply, family, names, stats, whole=True)

            found, stats = read_dump(netlink, route_request(family), decode)
            # A kernel without IPv6 answers the AF_INET6 dump with other families' routes
            # (see decode_routes), which leaves nothing; its missing ipv6_route tells the cases
            # apart from an IPv6 table that is merely empty.
            if found or family == 4 or _exists(procfs, rel):
                routes += found
                sources[family] = "netlink"
                losses += dump_losses(stats, f"IPv{family} route")
                continue
            reasons[family] = "no IPv6 routes from netlink"
        except (BackendUnavailable, OSError) as e:  # OSError: see linux/sockets.py
            reasons[family] = str(e)
        try:
            text = procfs.read_text(rel)
            found = _PROC_PARSERS[family](text, procfs.path(rel))
        except FileNotFoundError:
            sources[family] = None  # no IPv6 in this kernel: no ipv6_route either
            reasons[family] += f"; {procfs.path(rel)} does not exist: {NO_IPV6}"
            continue
        except OSError as e:
            sources[family] = None
            reasons[family] += f"; cannot read {procfs.path(rel)}: {e.strerror or e}"
            continue
        except ParseError as e:
            sources[family] = None
            reasons[family] += f"; {e}"
            continue
        routes += found
        sources[family] = "procfs"
    if nexthop.routes_needing_objects(routes):
        losses += _resolve_nexthops(routes, names, netlink)
    notes = links.notes + losses
    if sources.get(4) == "procfs":
        notes += _proc_gateway_notes(routes, procfs.path(_PROC_FILES[4]))
    # A kernel without IPv6 is not a loss: its table is simply absent.
    notes += [f"IPv{family} routes could not be read: {reasons.get(family)}"
              for family in (4, 6) if sources.get(family) is None
              and not str(reasons.get(family)).endswith(NO_IPV6)]
    return RoutesSnapshot(links.interfaces, routes, sources, reasons, notes)


def _resolve_nexthops(routes: list[Route], names: dict[int, str],
                      netlink: NetlinkSource | None) -> list[str]:
    """One RTM_GETNEXTHOP dump for every route that names a nexthop object; the notes to say.

    A kernel before 5.3 has no nexthop objects (and no route names one); if the dump fails all
    the same, only routes left without a path are worth a note.
    """
    why = None
    try:
        found, stats = read_dump(netlink, nexthop.nexthop_request(),
                                 lambda reply, stats: nexthop.decode_nexthops(reply, stats, True))
        objects = {obj.id: obj for obj in found}
        notes = dump_losses(stats, "nexthop")
    except (BackendUnavailable, OSError) as e:
        objects, notes, why = None, [], str(e)
    unresolved = nexthop.resolve(routes, objects, names)
    if unresolved:
        where = f"the nexthop table could not be read: {why}" if why else \
            "the nexthop table did not have them (changed since the route dump?)"
        notes.append(f"{len(unresolved)} route(s) name nexthop objects whose gateway and "
                     f"interface are unknown ({where})")
    return notes


def _proc_gateway_notes(routes: list[Route], path: str) -> list[str]:
    """What /proc/net/route shows of a route it cannot show whole, said when it shows.

    The /proc files print one path per route, whatever nexthop_compat_mode is (net/ipv4/fib_trie.c
    ``fib_route_seq_show``, net/ipv6/route.c ``ipv6_route_native_seq_show``: the first path of a
    multipath route or nexthop group, no weights, no nexthop ids; checked on Linux 6.18), and
    nothing in them tells such a route apart. One case does show: an IPv4 route through an IPv6
    gateway (RFC 5549, a nexthop object or RTA_VIA) has RTF_GATEWAY with gateway 0.0.0.0.
    """
    hidden = sum(1 for r in routes if r.family == 4 and r.nexthops
                 and r.nexthops[0].gateway == "0.0.0.0")
    if not hidden:
        return []
    return [f"{hidden} IPv4 route(s) in {path} go through a gateway it cannot show (an IPv6 "
            "gateway, RFC 5549): it prints 0.0.0.0; netlink (RTM_GETROUTE, RTM_GETNEXTHOP) "
            "would give it"]


def _exists(procfs: ProcFS, rel: str) -> bool:
    try:
        procfs.read_bytes(rel)
    except FileNotFoundError:
        return False
    return True
