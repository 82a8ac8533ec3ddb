"""-r: the interface list and the IPv4 and IPv6 route tables in the spec's netstat layout.

Collected by ``linux/routes.py``: RTM_GETLINK and RTM_GETROUTE dumps of every table, else
/proc/net/dev, /proc/net/route (main table only) and /proc/net/ipv6_route (no table ids). The text
shows the main
table, as `ip route` does; ``-v`` shows every table, the local table included, with Table and Type
columns. The "Interface" column names the device: a Linux route is bound to a device, not to
one of its addresses. Linux keeps no persistent routes in the kernel, and the output says so.
"""

from __future__ import annotations

from pynetstat.model.stats import (
    ROUTE_PROTOCOLS,
    ROUTE_SCOPES,
    ROUTE_TABLES,
    ROUTE_TYPES,
    RT_TABLE_MAIN,
    code_name,
    optional_code_name,
)
from pynetstat.textsafe import json_text, safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pynetstat.model.stats import Route, RoutesSnapshot
    from pynetstat.options import Options

RULE = "=" * 75
PERSISTENT_NOTE = ("Linux keeps no persistent routes in the kernel; routes that survive a reboot "
                   "are added again at boot by the network configuration.")
_NOTE_LINES = ("  (Linux keeps no persistent routes in the kernel; routes that survive a",
               "   reboot are added again at boot by the network configuration.)")
_RTN_UNICAST, _RTN_LOCAL = 1, 2
_NO_PATH = frozenset({6, 7, 8, 9})  # blackhole, unreachable, prohibit, throw: no next hop


def notes(snapshot: RoutesSnapshot) -> list[str]:
    """The stderr lines for what could not be read (a kernel without IPv6 is not a loss: its
    table is simply absent)."""
    return list(snapshot.notes)


def shown_routes(snapshot: RoutesSnapshot, family: int, opts: Options) -> list[Route]:
    """Main table by default; every table with -v. /proc/net/ipv6_route names no table, so
    there local routes (RTF_LOCAL) stand for the local table."""
    routes = [r for r in snapshot.routes if r.family == family]
    if opts.verbose:
        return routes
    return [r for r in routes
            if r.table == RT_TABLE_MAIN or (r.table is None and r.type != _RTN_LOCAL)]


def _gateway_text(route: Route, gateway: str | None) -> str:
    if route.type in _NO_PATH or (not route.nexthops and route.type != _RTN_UNICAST):
        return code_name(ROUTE_TYPES, route.type)
    return gateway or "On-link"


def _paths(route: Route) -> list[tuple[str, str, int | None]]:
    """(gateway text, interface name, ifindex) per next hop; one row for a route with none.
    The Interface cell is never empty (readers of `route print` split rows on blanks): a route
    with no device (blackhole, unreachable, prohibit, throw) shows its type there."""
    kind = code_name(ROUTE_TYPES, route.type)
    if not route.nexthops:
        return [(_gateway_text(route, None), kind, None)]
    # A path whose nexthop object could not be read names the object, as `ip route` does.
    return [(f"nhid-{h.nexthop_id}" if h.unresolved else _gateway_text(route, h.gateway),
             safe_token(h.ifname or "") or kind, h.ifindex) for h in route.nexthops]


def _interface_list(snapshot: RoutesSnapshot) -> list[str]:
    out = [RULE, "Interface List"]
    if snapshot.sources.get("links") is None:
        out.append(f"  Not available: {snapshot.reasons.get('links')}")
    for i in snapshot.interfaces:
        index = "" if i.index is None else str(i.index)
        mid = (i.hw_address.replace(":", " ") + " ......") if i.hw_address else ""
        out.append(f"{index:>3}...{mid.ljust(24, '.')}{safe_token(i.name)}")
    return out + [RULE, ""]


def _ipv4_table(routes: list[Route], verbose: bool) -> list[str]:
    """Columns right-aligned in the spec's widths (17, 17, 17, 17, 7), wider when a cell needs."""
    head = ["Network Destination", "Netmask", "Gateway", "Interface", "Metric"]
    rows = [[r.destination, r.netmask or "", gateway, ifname, str(r.metric)]
            for r in routes for gateway, ifname, _ in _paths(r)]
    widths = [max(minimum, *(len(row[c]) + 1 for row in rows)) if rows else minimum
              for c, minimum in enumerate((17, 17, 17, 17, 7))]
    if verbose:
        head += ["Table", "Type"]
        extra = [[optional_code_name(ROUTE_TABLES, r.table) or "", code_name(ROUTE_TYPES, r.type)]
                 for r in routes for _ in _paths(r)]
        rows = [row + more for row, more in zip(rows, extra)]
        widths += [max(len(h), *(len(row[c]) for row in rows)) + 2 if rows else len(h) + 2
                   for c, h in ((5, "Table"), (6, "Type"))]
    # The first heading is wider than its column; the spec's netstat lets it run into the next.
    header = head[0].ljust(widths[0] + widths[1] - len(head[1])) + head[1] + "".join(
        h.rjust(w) for h, w in zip(head[2:], widths[2:]))
    return [header] + ["".join(cell.rjust(w) for cell, w in zip(row, widths))
                       for row in rows]


def _ipv6_table(routes: list[Route], verbose: bool) -> list[str]:
    lines = [" If Metric Network Destination      Gateway"
             + ("                  Table  Type" if verbose else "")]
    for r in routes:
        dest = f"{r.destination}/{r.prefix_len}"
        for gateway, ifname, ifindex in _paths(r):
            prefix = f"{ifindex if ifindex is not None else ifname:>3} {r.metric:>6} "
            tail = gateway
            if verbose:
                tail = f"{gateway:<24} {optional_code_name(ROUTE_TABLES, r.table) or '?':<6} " \
                       f"{code_name(ROUTE_TYPES, r.type)}"
            # As the spec's netstat does, a long destination puts the gateway on a line of its
            # own; not with -v's Table and Type, which readers of that line (jc) would take for
            # part of the gateway: the row stays on one line, its columns pushed right.
            if len(dest) > 24 and not verbose:
                lines += [(prefix + dest).rstrip(), " " * 36 + tail]
            else:
                lines.append(prefix + dest.ljust(24) + " " + tail)
    return lines


def _route_section(title: str, body: list[str] | None, why: str | None) -> list[str]:
    out = [title, RULE, "Active Routes:"]
    if body is None:
        out.append(f"  Not available: {why}")
    else:
        out += body
    return out + [RULE, "Persistent Routes:", "  None", *_NOTE_LINES, ""]


def render_text(snapshot: RoutesSnapshot, opts: Options) -> str:
    out = _interface_list(snapshot)
    for family, title, table in ((4, "IPv4 Route Table", _ipv4_table),
                                 (6, "IPv6 Route Table", _ipv6_table)):
        available = snapshot.sources.get(family) is not None
        body = table(shown_routes(snapshot, family, opts), opts.verbose) if available else None
        out += _route_section(title, body, snapshot.reasons.get(family))
    return "\n".join(out)


ROW_COLUMNS = ("Destination", "Gateway", "Interface", "Metric", "Table", "Type", "Protocol")


def route_rows(snapshot: RoutesSnapshot, opts: Options) -> list[tuple[str, ...]]:
    """One row of escaped text per shown route and next hop, IPv4 then IPv6 (``ROW_COLUMNS``):
    the live view's routes screen."""
    out: list[tuple[str, ...]] = []
    for family in (4, 6):
        for r in shown_routes(snapshot, family, opts):
            dest = f"{r.destination}/{r.prefix_len}"
            for gateway, ifname, _ in _paths(r):
                out.append((dest, gateway, ifname, str(r.metric),
                            optional_code_name(ROUTE_TABLES, r.table) or "",
                            code_name(ROUTE_TYPES, r.type),
                            optional_code_name(ROUTE_PROTOCOLS, r.protocol) or ""))
    return out


def route_json(route: Route) -> dict[str, Any]:
    return {
        "family": route.family,
        "table": route.table,
        "table_name": optional_code_name(ROUTE_TABLES, route.table),
        "destination": route.destination,
        "prefix_length": route.prefix_len,
        "netmask": route.netmask,
        "nexthops": [{"gateway": h.gateway,
                      "interface": None if h.ifname is None else json_text(h.ifname),
                      "ifindex": h.ifindex, "weight": h.weight, "nexthop_id": h.nexthop_id}
                     for h in route.nexthops],
        "nexthop_id": route.nexthop_id,
        "metric": route.metric,
        "type": code_name(ROUTE_TYPES, route.type),
        "scope": optional_code_name(ROUTE_SCOPES, route.scope),
        "protocol": optional_code_name(ROUTE_PROTOCOLS, route.protocol),
        "preferred_source": route.prefsrc,
    }


def to_json(snapshot: RoutesSnapshot, opts: Options) -> dict[str, Any]:
    return {
        "source": {str(k): v for k, v in snapshot.sources.items()},
        "fallback_reasons": {str(k): v for k, v in snapshot.reasons.items()},
        "interfaces": [{"index": i.index, "name": json_text(i.name), "hw_address": i.hw_address}
                       for i in snapshot.interfaces],
        "ipv4_routes": ([route_json(r) for r in shown_routes(snapshot, 4, opts)]
                        if snapshot.sources.get(4) else None),
        "ipv6_routes": ([route_json(r) for r in shown_routes(snapshot, 6, opts)]
                        if snapshot.sources.get(6) else None),
        "persistent_routes": [],
        "persistent_routes_note": PERSISTENT_NOTE,
    }


def counters(snapshot: RoutesSnapshot) -> dict[str, int]:
    """A route table has no counters that only grow (metrics are settings): always empty."""
    return {}
