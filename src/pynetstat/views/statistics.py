"""-s: per-protocol statistics in the spec's netstat layout, from /proc/net/snmp, snmp6 and netstat.

Linux keeps one set of TCP counters for IPv4 and IPv6 together (the TCP MIB is per network
namespace, not per family: net/ipv4/tcp_ipv4.c and net/ipv6/tcp_ipv6.c both count into
``TCP_MIB_*``), so TCP is shown once, titled and annotated as such. IP, ICMP and UDP are kept
per family (/proc/net/snmp for IPv4, /proc/net/snmp6 for IPv6). A line whose counter Linux does
not keep prints ``n/a`` and is ``null`` in JSON.
"""

from __future__ import annotations

from pynetstat.model.stats import monotonic_counters
from pynetstat.render.counts import fmt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from pynetstat.model.stats import CountersSnapshot, ProtocolCounters
    from pynetstat.options import Options


# (label, group, name); name None: Linux keeps no such count. "Routing Discards" is RFC 4293's
# ipRoutingDiscards (valid routes thrown away), which Linux does not count.
_IP_LINES = (
    ("Packets Received", "InReceives"), ("Received Header Errors", "InHdrErrors"),
    ("Received Address Errors", "InAddrErrors"), ("Datagrams Forwarded", "ForwDatagrams"),
    ("Unknown Protocols Received", "InUnknownProtos"),
    ("Received Packets Discarded", "InDiscards"), ("Received Packets Delivered", "InDelivers"),
    ("Output Requests", "OutRequests"), ("Routing Discards", None),
    ("Discarded Output Packets", "OutDiscards"), ("Output Packet No Route", "OutNoRoutes"),
    ("Reassembly Required", "ReasmReqds"), ("Reassembly Successful", "ReasmOKs"),
    ("Reassembly Failures", "ReasmFails"), ("Datagrams Successfully Fragmented", "FragOKs"),
    ("Datagrams Failing Fragmentation", "FragFails"), ("Fragments Created", "FragCreates"),
)
_IP6_LINES = tuple((label, "OutForwDatagrams" if name == "ForwDatagrams" else name)
                   for label, name in _IP_LINES)
_TCP_LINES = (
    ("Active Opens", "ActiveOpens"), ("Passive Opens", "PassiveOpens"),
    ("Failed Connection Attempts", "AttemptFails"), ("Reset Connections", "EstabResets"),
    ("Current Connections", "CurrEstab"), ("Segments Received", "InSegs"),
    ("Segments Sent", "OutSegs"), ("Segments Retransmitted", "RetransSegs"),
)
_UDP_LINES = (("Datagrams Received", "InDatagrams"), ("No Ports", "NoPorts"),
              ("Receive Errors", "InErrors"), ("Datagrams Sent", "OutDatagrams"))
# ICMP rows: (label, counter suffix or "Type<n>"). The per-type counts (IcmpMsg InType9, snmp6
# Icmp6InType138) are printed by the kernel only when non-zero (net/ipv4/proc.c icmpmsg_put,
# net/ipv6/proc.c snmp6_seq_show_icmpv6msg), so an absent type there is a true 0.
_ICMP_ROWS = (
    ("Messages", "Msgs"), ("Errors", "Errors"), ("Destination Unreachable", "DestUnreachs"),
    ("Time Exceeded", "TimeExcds"), ("Parameter Problems", "ParmProbs"),
    ("Source Quenches", "SrcQuenchs"), ("Redirects", "Redirects"), ("Echo Replies", "EchoReps"),
    ("Echos", "Echos"), ("Timestamps", "Timestamps"), ("Timestamp Replies", "TimestampReps"),
    ("Address Masks", "AddrMasks"), ("Address Mask Replies", "AddrMaskReps"),
    ("Router Solicitations", "Type10"), ("Router Advertisements", "Type9"),
)
_ICMP6_ROWS = (
    ("Messages", "Msgs"), ("Errors", "Errors"), ("Destination Unreachable", "DestUnreachs"),
    ("Packet Too Big", "PktTooBigs"), ("Time Exceeded", "TimeExcds"),
    ("Parameter Problems", "ParmProblems"), ("Echos", "Echos"), ("Echo Replies", "EchoReplies"),
    ("MLD Queries", "GroupMembQueries"), ("MLD Reports", "GroupMembResponses"),
    ("MLD Dones", "GroupMembReductions"), ("Router Solicitations", "RouterSolicits"),
    ("Router Advertisements", "RouterAdvertisements"),
    ("Neighbor Solicitations", "NeighborSolicits"),
    ("Neighbor Advertisements", "NeighborAdvertisements"), ("Redirects", "Redirects"),
    ("Router Renumberings", "Type138"),
)
TCP_SHARED_NOTE = ("Linux counts TCP over IPv4 and IPv6 together; "
                   "these counts are for both families.")


class Section:
    """One section of the -s output: which -p values select it, its title, kernel groups, lines."""

    __slots__ = ("key", "protocols", "title", "group", "type_group", "lines", "icmp", "extra")

    def __init__(self, key: str, protocols: tuple[str, ...], title: str, group: str,
                 lines: Sequence[tuple[str, str | None]], icmp: bool = False,
                 type_group: str | None = None, extra: tuple[str, ...] = ()):
        self.key, self.protocols, self.title, self.group = key, protocols, title, group
        self.lines, self.icmp, self.type_group, self.extra = lines, icmp, type_group, extra


SECTIONS = (
    Section("ipv4", ("IP",), "IPv4 Statistics", "Ip", _IP_LINES, extra=("IpExt",)),
    Section("ipv6", ("IPv6",), "IPv6 Statistics", "Ip6", _IP6_LINES),
    Section("icmpv4", ("ICMP",), "ICMPv4 Statistics", "Icmp", _ICMP_ROWS, icmp=True,
            type_group="IcmpMsg", extra=("IcmpMsg",)),
    Section("icmpv6", ("ICMPv6",), "ICMPv6 Statistics", "Icmp6", _ICMP6_ROWS, icmp=True,
            type_group="Icmp6"),
    Section("tcp", ("TCP", "TCPv6"), "TCP Statistics for IPv4 and IPv6", "Tcp", _TCP_LINES,
            extra=("TcpExt", "MPTcpExt")),
    Section("udpv4", ("UDP",), "UDP Statistics for IPv4", "Udp", _UDP_LINES, extra=("UdpLite",)),
    Section("udpv6", ("UDPv6",), "UDP Statistics for IPv6", "Udp6", _UDP_LINES,
            extra=("UdpLite6",)),
)


def notes(snapshot: CountersSnapshot) -> list[str]:
    """The stderr lines for what could not be read."""
    return list(snapshot.notes)


def selected_sections(opts: Options) -> list[Section]:
    if opts.protocol is None:
        return list(SECTIONS)
    return [s for s in SECTIONS if opts.protocol in s.protocols]


def section_values(section: Section, counters: ProtocolCounters) -> dict[str, Any] | None:
    """``{label: value}`` (ICMP: ``{label: (received, sent)}``); ``None`` when the section's
    group is missing altogether (a kernel without IPv6)."""
    if section.group not in counters.groups:
        return None
    get = counters.get
    if not section.icmp:
        return {label: None if name is None else get(section.group, name)
                for label, name in section.lines}
    rows: dict[str, tuple[int | None, int | None]] = {}
    for label, suffix in section.lines:
        if suffix is None:
            continue
        if suffix.startswith("Type"):
            types = counters.groups.get(section.type_group or "", {})
            rows[label] = (types.get("In" + suffix, 0), types.get("Out" + suffix, 0))
        else:
            rows[label] = (get(section.group, "In" + suffix), get(section.group, "Out" + suffix))
    return rows


def extra_groups(section: Section, counters: ProtocolCounters
                 ) -> list[tuple[str, dict[str, int]]]:
    """-v: the kernel's counters beyond the section's lines, by group, with the kernel's names."""
    used: set[str] = set()
    for _label, name in section.lines:
        if name is not None and not name.startswith("Type"):
            used.update((name, "In" + name, "Out" + name) if section.icmp else (name,))
    out = []
    rest = {k: v for k, v in counters.groups.get(section.group, {}).items() if k not in used}
    if section.type_group == section.group:
        rest = {k: v for k, v in rest.items() if "Type" not in k}
        out.append((section.group + " (message types)",
                    {k: v for k, v in counters.groups.get(section.group, {}).items()
                     if "Type" in k}))
    out.insert(0, (section.group, rest))
    out.extend((group, counters.groups[group]) for group in section.extra
               if group in counters.groups)
    return [(name, values) for name, values in out if values]


def render_text(snapshot: CountersSnapshot, opts: Options) -> str:
    out: list[str] = []
    counters = snapshot.counters
    for section in selected_sections(opts):
        out += ["", section.title, ""]
        values = section_values(section, counters)
        if values is None:
            if snapshot.unreadable:
                out.append(f"  Not available: {', '.join(snapshot.unreadable)} could not be read.")
                continue
            if counters.files:  # some counter files exist: this one's absence is the kernel's
                out.append(f"  Not available: this kernel has no {section.group} counters "
                           f"({', '.join(counters.missing) or 'file missing'}).")
            else:  # none at all: a /proc without net/ (subset=pid, a copied tree), not the kernel
                out.append(f"  Not available: {', '.join(counters.missing) or 'the counter files'}"
                           " not found (is /proc mounted with subset=pid?).")
            continue
        if section.key == "tcp":
            out += [f"  {TCP_SHARED_NOTE}", ""]
        if section.icmp:
            width = max(map(len, values)) + 4
            col = max(12, *(len(fmt(v)) + 2 for pair in values.values() for v in pair))
            out.append(" " * (width + 2) + "Received".ljust(col) + "Sent")
            out += [f"  {label.ljust(width)}{fmt(rx).ljust(col)}{fmt(tx)}"
                    for label, (rx, tx) in values.items()]
        else:
            out += pair_lines(values.items())
        if opts.verbose:
            for group, extra in extra_groups(section, counters):
                out += ["", f"  Linux {group} counters", ""]
                out += pair_lines(extra.items(), indent="    ")
    out.append("")
    return "\n".join(out)


def pair_lines(items: Iterable[tuple[str, int | None]], indent: str = "  ") -> list[str]:
    """``Name = value`` lines with the ``=`` aligned, as the spec's netstat prints them."""
    items = list(items)
    if not items:
        return []
    width = max(len(name) for name, _ in items) + 2
    return [f"{indent}{name.ljust(width)} = {fmt(value)}" for name, value in items]


def to_json(snapshot: CountersSnapshot, opts: Options) -> dict[str, Any]:
    counters = snapshot.counters
    sections = []
    for section in selected_sections(opts):
        values = section_values(section, counters)
        if values is not None and section.icmp:
            values = {label: {"received": rx, "sent": tx} for label, (rx, tx) in values.items()}
        # "kernel" is always there (docs/json.md): null without -v or when not available.
        entry = {"name": section.key, "title": section.title, "available": values is not None,
                 "shared_by_ipv4_and_ipv6": section.key == "tcp", "counters": values,
                 "kernel": dict(extra_groups(section, counters))
                 if opts.verbose and values is not None else None}
        sections.append(entry)
    return {"source": snapshot.source, "files": counters.files, "missing": counters.missing,
            "unreadable": dict(snapshot.unreadable), "sections": sections}


def counters(snapshot: CountersSnapshot) -> dict[str, int]:
    """Every monotonic counter, ``{"Tcp.ActiveOpens": 12, "Ip6.InReceives": 3, ...}``."""
    return monotonic_counters(snapshot.counters.groups)

