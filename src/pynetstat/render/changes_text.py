"""What ``--changes`` prints after the first display, as text: one line per change.

Each line with the local time of the pass and a mark::

    Time       Proto  Local Address          Foreign Address        State
    14:02:07 + TCP    127.0.0.1:5000         127.0.0.1:41872        ESTABLISHED
    14:02:09 ~ TCP    127.0.0.1:5000         127.0.0.1:41872        ESTABLISHED -> CLOSE_WAIT
    14:02:11 - TCP    127.0.0.1:5000         127.0.0.1:41872        CLOSE_WAIT

    Time       Counter                                 Delta       Rate/s           Value
    14:02:07 ~ Tcp.InSegs                               +152         76.0          123456
    14:02:07 ! eth0.rx_packets                         reset            -              12  (was 4294967290)

With --all-netns a Namespace column comes first, and a namespace that appeared or went away
between two passes is a line of its own: ``14:02:07 + netns 4026532456 (blue)``.

With -d, -i, --info, --timers, --memory the row's line of them follows it (render/extensions.py;
in interval mode with the rates and time seen in state, a closed row's last ones); then -b's.
Marks (``model.changes.MARKS``): ``+`` appeared, ``-`` closed or gone, ``~`` changed state or
moved, ``!`` went backwards (a counter reset or wrapped). Colour only when asked (``color``).
Columns are measured per pass and never shrink. The JSON Lines form is render/changes_json.py.
"""

from __future__ import annotations

import time

from pynetstat.model.changes import MARKS, route_difference
from pynetstat.model.netns_labels import netns_cell, netns_named
from pynetstat.model.sockets import spec_state_name
from pynetstat.render.endpoints import pid_text, row_cells
from pynetstat.textsafe import safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from pynetstat.model.changes import ConnectionChange, CounterChange, NamespaceChange, Route
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import Owner
    from pynetstat.options import Options
    from pynetstat.resolve import Names

    # (time, mark, cells, lines under the row)
    Row = tuple[str, str, tuple[str, ...], list[str]]

_COLORS = {"+": "\033[32m", "-": "\033[31m", "~": "\033[33m", "!": "\033[35m"}
_RESET = "\033[0m"
_CONNECTION_HEADINGS = ("Proto", "Local Address", "Foreign Address", "State", "PID")
_COUNTER_HEADINGS = ("Counter", "Delta", "Rate/s", "Value", "")  # the last: "(was N)" after a reset


def clock(stamp: float) -> str:
    """A wall-clock time stamp as the local ``HH:MM:SS`` of a text line."""
    return time.strftime("%H:%M:%S", time.localtime(stamp))


class _Lines:
    """Rows of cells measured, then printed: the widths only grow, so columns stay put."""

    def __init__(self, out: TextIO, color: bool, interval: float, headings: tuple[str, ...],
                 widths: list[int], right: frozenset[int] = frozenset()):
        self.out = out
        self.color = color
        self.interval = interval
        self.headings = headings
        self.widths = widths
        self.right = right  # columns aligned right (numbers)

    def begin(self, legend: str) -> None:
        self.out.write(f"\nChanges every {self.interval:g} s ({legend}):\n\n"
                       + self._format("Time    ", " ", self.headings))

    def emit(self, rows: list[Row]) -> None:
        """``rows``: (time, mark, cells, lines under the row)."""
        for _, _, cells, _ in rows:
            for i, cell in enumerate(cells[:-1]):
                self.widths[i] = max(self.widths[i], len(cell) + 2)
        out = []
        for when, mark, cells, under in rows:
            line = self._format(when, mark, cells)
            if self.color:
                line = f"{_COLORS[mark]}{line[:-1]}{_RESET}\n"
            out.append(line)
            out += [u + "\n" for u in under]
        self.out.write("".join(out))

    def _format(self, when: str, mark: str, cells: tuple[str, ...]) -> str:
        parts = []
        for i, cell in enumerate(cells[:-1]):
            width = self.widths[i]
            parts.append(cell.rjust(width - 2) + "  " if i in self.right else cell.ljust(width))
        last = cells[-1].rjust(self.widths[-1]) if len(cells) - 1 in self.right else cells[-1]
        return f"{when} {mark} {''.join(parts)}{last}".rstrip() + "\n"


class ConnectionChangeText:
    """Connections that appeared, closed or changed state, pass after pass."""

    def __init__(self, out: TextIO, opts: Options, names: Names | None,
                 ifname: Callable[[int], str], color: bool):
        self.opts = opts
        self.names = names
        self.ifname = ifname
        # --all-netns: a scope is an ifindex of the row's namespace (session.InterfaceNames.within)
        self.within = getattr(ifname, "within", None)
        columns = 5 if opts.pids else 4
        assert opts.interval is not None  # cli: --changes needs an interval
        headings, widths = _CONNECTION_HEADINGS[:columns], [7, 23, 23, 16, 0][:columns]
        self.netns = opts.all_netns  # a Namespace column first, as in the table
        if self.netns:
            headings, widths = ("Namespace", *headings), [11, *widths]
        self.lines = _Lines(out, color, opts.interval, headings, widths)
        self.owner_lines: Callable[[tuple[Owner, ...], bool], list[str]] | None = None
        if opts.executables:
            from pynetstat.render.owners import owner_lines

            self.owner_lines = owner_lines
        self.groups = opts.extension_groups  # -d, -i, --info, ...: their line under the row

    def begin(self) -> None:
        self.lines.begin("+ appeared, - closed, ~ changed state")

    def write(self, changes: list[ConnectionChange], stamp: float, number: int) -> None:
        from pynetstat.render.owners import UNREADABLE_LINE, peer_line

        opts = self.opts
        when = clock(stamp)
        rows: list[Row] = []
        for change in changes:
            sock = change.sock
            ifname = self.ifname if self.within is None else self.within(change.netns)
            label, local, foreign, state = row_cells(sock, ifname, self.names)
            if change.kind == "state" and change.previous_state is not None:
                state = f"{spec_state_name(change.previous_state)} -> {spec_state_name(sock.state)}"
            cells: tuple[str, ...] = (label, local, foreign, state)
            if self.netns:
                cells = (netns_cell(change.netns), *cells)
            if opts.pids:
                cells += (pid_text(tuple(o.pid for o in change.owners)),)
            under: list[str] = []
            if self.groups:
                from pynetstat.render.extensions import extension_lines, is_ipv4

                under = extension_lines(change.ext, self.groups, opts.numeric,
                                        is_ipv4(sock.family, sock.remote_address), change.measure)
            if self.owner_lines is not None:
                peer = change.peer  # the other end on this host, above the owner lines (jc)
                if peer is not None and peer.owners is not None:
                    under.append(peer_line(peer.accepted, peer.inode, peer.owners))
                under += (self.owner_lines(change.owners, opts.verbose) if change.owners
                          else [UNREADABLE_LINE] if sock.inode else [])
            rows.append((when, MARKS[change.kind], cells, under))
        self.lines.emit(rows)


class CounterChangeText:
    """Counters that moved (-s, -e) and routes added or removed (-r), pass after pass."""

    def __init__(self, out: TextIO, opts: Options, color: bool):
        # -r alone has routes and no counters: no counter heading or legend above route lines.
        self.with_routes = opts.routes
        self.routes_only = opts.routes and not (opts.statistics or opts.ethernet)
        assert opts.interval is not None  # cli: --changes needs an interval
        headings: tuple[str, ...] = ("Route",) if self.routes_only else _COUNTER_HEADINGS
        widths = [0] if self.routes_only else [40, 12, 14, 16, 0]
        right = frozenset() if self.routes_only else frozenset({1, 2, 3})
        self.netns = opts.all_netns  # a Namespace column first, as in the connections' changes
        if self.netns:
            headings, widths = ("Namespace", *headings), [11, *widths]
            right = frozenset(i + 1 for i in right)
        self.lines = _Lines(out, color, opts.interval, headings, widths, right)

    def begin(self) -> None:
        legend = "~ moved, ! went backwards: reset or wrapped, + new, - gone"
        if self.routes_only:
            legend = "+ added, - removed, ~ changed"
        elif self.with_routes:
            legend += "; routes: + added, - removed, ~ changed"
        self.lines.begin(legend)

    def write(self, counters: list[CounterChange], routes: list[tuple[str, Route, Route | None]],
              stamp: float, number: int, netns: NetNamespace | None = None) -> None:
        """``netns``: the namespace these changes are of (--all-netns), its cell first."""
        when = clock(stamp)
        rows: list[Row] = []
        lead: tuple[str, ...] = (netns_cell(netns),) if self.netns else ()
        for c in counters:
            name = safe(c.name)  # "eth0.rx_bytes": an interface name is any bytes
            if c.kind == "moved":
                cells = (name, f"+{c.delta}", "-" if c.rate is None else f"{c.rate:.1f}",
                         str(c.value), "")
            elif c.kind == "reset":
                cells = (name, "reset", "-", str(c.value), f"(was {c.previous})")
            else:
                cells = (name, "new" if c.kind == "added" else "gone", "-",
                         "-" if c.value is None else str(c.value), "")
            rows.append((when, MARKS[c.kind], lead + cells, []))
        for kind, route, previous in routes:
            under: list[str] = []
            if previous is not None:  # what changed, under the route: "    prefsrc: a -> b"
                under = ["           " + safe(line) for line in route_difference(previous, route)]
            rows.append((when, MARKS[kind], (*lead, route_text(route)), under))
        self.lines.emit(rows)


def namespace_lines(changes: list[NamespaceChange], stamp: float, color: bool) -> str:
    """--all-netns: a namespace that appeared or went away between two passes, one line each,
    ``14:02:07 + netns 4026532456 (blue)`` (the label after the inode, when it is not the
    inode)."""
    out = []
    for change in changes:
        line = f"{clock(stamp)} {MARKS[change.kind]} netns {netns_named(change.netns)}"
        if color:
            line = f"{_COLORS[MARKS[change.kind]]}{line}{_RESET}"
        out.append(line + "\n")
    return "".join(out)


def route_text(route: Route) -> str:
    """``IPv4 10.0.0.0/8 via 192.168.1.1 dev eth0 metric 100 table main`` (from ``route_json``)."""
    parts = [f"IPv{route['family']}", f"{route['destination']}/{route['prefix_length']}"]
    for hop in route["nexthops"]:
        if hop["gateway"]:
            parts.append(f"via {hop['gateway']}")
        if hop["interface"]:
            parts.append(f"dev {safe(hop['interface'])}")
    if route["metric"] is not None:
        parts.append(f"metric {route['metric']}")
    if route["type"] not in (None, "unicast"):
        parts.append(route["type"])
    if route["table_name"] not in (None, "main"):
        parts.append(f"table {route['table_name']}")
    return " ".join(parts)
