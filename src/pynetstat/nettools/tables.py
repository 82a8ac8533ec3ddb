"""-r, -i and -s as net-tools prints them (lib/inet_gr.c ``rprint_fib``, lib/interface.c
``ife_print_short``, statistics.c).

-r reads /proc/net/route as net-tools does (its flags, MSS, window and irtt columns are in no
netlink reply pynetstat keeps); -i takes the counters from linux/links.py (RTM_GETLINK, else
/proc/net/dev) and each interface's flags and MTU from the kernel (SIOCGIFFLAGS, SIOCGIFMTU, as
net-tools); -s the counters linux/counters.py reads.
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from socket import socket as Socket

    from pynetstat.model.stats import Interface
    from pynetstat.nettools.run import Run

    # the counters of one -i line: RX-OK, RX-ERR, RX-DRP, RX-OVR, TX-OK, TX-ERR, TX-DRP, TX-OVR
    Counters = tuple[int, int, int, int, int, int, int, int]
    InterfaceRow = tuple[Interface, int, int, Counters | None]  # (interface, flags, MTU, counters)

# include/uapi/linux/route.h
_RTF_UP, _RTF_GATEWAY, _RTF_HOST, _RTF_REINSTATE, _RTF_DYNAMIC, _RTF_MODIFIED = 1, 2, 4, 8, 16, 32
_RTF_REJECT = 0x200
_ROUTE_FLAGS = ((_RTF_HOST, "H"), (_RTF_REINSTATE, "R"), (_RTF_DYNAMIC, "D"), (_RTF_MODIFIED, "M"))


def _kept(session: Run) -> set[str] | None:
    """The interfaces a ``--interface`` keeps (-i and -r show only theirs), or ``None``: all."""
    if session.opts.filter is None:
        return None
    from pynetstat.linux.links import kept_interfaces

    return kept_interfaces(session.opts.filter, session.netlink)


def _statistics(session: Run, notes: list[str]
                ) -> tuple[dict[str, dict[str, int]], set[str], bool]:
    """-s: ``(counter groups, switches shown, -6)`` from linux/counters.py."""
    from pynetstat.linux.counters import collect

    opts = session.opts
    snapshot = collect(None, session.proc)
    notes.extend(snapshot.notes)
    named = {k for k in ("tcp", "udp", "raw") if getattr(opts, k)}
    return (snapshot.counters.groups, named or {"tcp", "udp", "raw", "sctp"},
            opts.inet6 and not opts.inet)


def render(session: Run, notes: list[str]) -> str:
    opts = session.opts
    if opts.route:
        return routes(session, notes)
    if opts.interfaces:
        return interfaces(session, notes)
    from pynetstat.nettools.stats import render as stats_text

    return stats_text(*_statistics(session, notes))


def records(session: Run, notes: list[str]
            ) -> list[dict[str, object]] | dict[str, dict[str, int]]:
    """``--json`` with -r, -i or -s: the rows the text shows, as data (docs/nettools.md)."""
    opts = session.opts
    if opts.route:
        lines = _route_lines(session, notes)
        return [route_record(line) for line in lines or ()]
    if opts.interfaces:
        return [interface_record(*row) for row in _interface_rows(session, notes)]
    from pynetstat.nettools.stats import shown_groups

    return shown_groups(*_statistics(session, notes))


def _quad(hex_text: str) -> str:
    """/proc/net/route's address field (the u32 in host order, %08X) -> dotted quad."""
    import socket
    import sys

    return socket.inet_ntoa(struct.pack("<I" if sys.byteorder == "little" else ">I",
                                        int(hex_text, 16)))


class RouteLine:
    """One line of /proc/net/route (net/ipv4/fib_trie.c ``fib_route_seq_show``), the fields
    net-tools prints: addresses as dotted quads, flags as the number."""

    __slots__ = ("iface", "destination", "gateway", "flags", "refcnt", "use", "metric", "genmask",
                 "mss", "window", "irtt")

    def __init__(self, f: list[str]):
        self.iface, self.destination, self.gateway = f[0], _quad(f[1]), _quad(f[2])
        self.flags, self.refcnt, self.use, self.metric = int(f[3], 16), int(f[4]), int(f[5]), int(f[6])
        self.genmask, self.mss, self.window, self.irtt = _quad(f[7]), int(f[8]), int(f[9]), int(f[10])

    @property
    def flag_letters(self) -> str:
        """``UG``, ``UH``; ``!`` replaces U and G of a reject route (rprint_fib)."""
        word = "!" if self.flags & _RTF_REJECT else "U" + ("G" if self.flags & _RTF_GATEWAY else "")
        return word + "".join(letter for bit, letter in _ROUTE_FLAGS if self.flags & bit)


def _route_lines(session: Run, notes: list[str]) -> list[RouteLine] | None:
    """The routes that are up, of the interfaces a ``--interface`` keeps; ``None`` (and a note)
    when /proc/net/route cannot be read."""
    try:
        text = session.proc.read_text("net/route")
    except OSError as e:
        notes.append(f"cannot read {session.proc.path('net/route')}: {e.strerror or e}")
        return None
    kept = _kept(session)
    lines: list[RouteLine] = []
    for line in text.split("\n")[1:]:
        f = line.split()
        if len(f) < 11 or (kept is not None and f[0] not in kept):
            continue
        route = RouteLine(f)
        if route.flags & _RTF_UP:
            lines.append(route)
    return lines


# jc's route parser (jc/parsers/route.py): a flag letter's word in ``flags_pretty``
_FLAG_WORDS = {"U": "UP", "G": "GATEWAY", "H": "HOST", "R": "REINSTATE", "D": "DYNAMIC",
               "M": "MODIFIED", "!": "REJECT"}


def route_record(route: RouteLine) -> dict[str, object]:
    """``-r --json``: one route with the fields and types ``jc --route`` reads from ``netstat
    -rnee`` (every column net-tools can show); addresses numeric, a reject route's gateway null."""
    reject = bool(route.flags & _RTF_REJECT)
    letters = route.flag_letters
    return {"destination": route.destination, "gateway": None if reject else route.gateway,
            "genmask": route.genmask, "flags": letters, "metric": route.metric,
            "ref": None if reject else route.refcnt, "use": route.use, "iface": route.iface,
            "mss": None if reject else route.mss, "window": None if reject else route.window,
            "irtt": None if reject else route.irtt,
            "flags_pretty": [_FLAG_WORDS[letter] for letter in letters]}


def routes(session: Run, notes: list[str]) -> str:
    """``netstat -r``: ``Flags   MSS Window  irtt`` (net-tools swaps -e there: -e gives
    ``Flags Metric Ref    Use``, -ee both)."""
    opts = session.opts
    ext = {0: 2, 1: 1}.get(opts.extend, 3)
    out = ["Kernel IP routing table\n"]
    head = "Destination     Gateway         Genmask         "
    out.append(head + {1: "Flags Metric Ref    Use Iface\n", 2: "Flags   MSS Window  irtt Iface\n",
                       3: "Flags Metric Ref    Use Iface    MSS   Window irtt\n"}[ext])
    lines = _route_lines(session, notes)
    names = None if opts.numeric_hosts else session.names
    for route in lines or ():
        dest, gate, mask, iface = route.destination, route.gateway, route.genmask, route.iface
        metric, refcnt, use = route.metric, route.refcnt, route.use
        mss, window, irtt = route.mss, route.window, route.irtt
        if names is not None:
            dest = "default" if dest == mask == "0.0.0.0" else (names.host(dest) or dest)
            gate = names.host(gate) or gate if gate != "0.0.0.0" else gate
        word = route.flag_letters
        dest, gate = dest[:15], gate[:15]
        if route.flags & _RTF_REJECT:
            out.append(f"{dest:<15} -               {mask:<15} {word:<5} " + {
                1: f"{metric:<6} -  {use:>7} -\n", 2: "    - -          - -\n",
                3: f"{metric:<6} -  {use:>7} -        -     -      -\n"}[ext])
        elif ext == 1:
            out.append(f"{dest:<15} {gate:<15} {mask:<15} {word:<5} {metric:<6} {refcnt:<2} "
                       f"{use:>7} {iface}\n")
        elif ext == 2:
            out.append(f"{dest:<15} {gate:<15} {mask:<15} {word:<5} {mss:>5} {window:<5} "
                       f"{irtt:>6} {iface}\n")
        else:
            out.append(f"{dest:<15} {gate:<15} {mask:<15} {word:<5} {metric:<6} {refcnt:<3} "
                       f"{use:>6} {iface[:6]:<6}   {mss:<5} {window:<6} {irtt}\n")
    return "".join(out)


# include/uapi/linux/if.h, in ife_print_short's order
_IF_FLAGS = ((0x200, "A"), (0x2, "B"), (0x4, "D"), (0x8, "L"), (0x1000, "M"), (0x100, "P"),
             (0x20, "N"), (0x80, "O"), (0x10, "p"), (0x800, "s"), (0x400, "m"), (0x40, "R"),
             (0x1, "U"))
_SIOCGIFFLAGS, _SIOCGIFMTU = 0x8913, 0x8921
_IFF_UP = 0x1


def _ioctl_flags_mtu(sock: Socket, name: str) -> tuple[int, int] | None:
    """The interface's flags and MTU as net-tools asks for them; None when it is gone."""
    import fcntl

    request = struct.pack("16s16x", name.encode("utf-8", "surrogateescape")[:15])
    try:
        flags = struct.unpack_from("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request), 16)[0]
        mtu = struct.unpack_from("i", fcntl.ioctl(sock, _SIOCGIFMTU, request), 16)[0]
    except OSError:
        return None
    return flags, mtu


def _natural(name: str) -> tuple[str, int]:
    """lib/nstrcmp.c: names compare by their text, then by the number they end with."""
    stem = name.rstrip("0123456789")
    return (stem, int(name[len(stem):] or -1))


def _interface_rows(session: Run, notes: list[str]) -> list[InterfaceRow]:
    """``[(interface, flags, MTU, counters or None), ...]`` as ``netstat -i`` lists them: in
    net-tools' order, those that are up (-a: all), of the interfaces a ``--interface`` keeps;
    counters ``(RX-OK, RX-ERR, RX-DRP, RX-OVR, TX-OK, TX-ERR, TX-DRP, TX-OVR)``."""
    import socket

    from pynetstat.linux.links import collect

    snapshot = collect(None, session.proc, session.netlink)
    notes.extend(snapshot.notes)
    kept = _kept(session)
    listed = [i for i in snapshot.interfaces if kept is None or i.name in kept]
    rows: list[InterfaceRow] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for iface in sorted(listed, key=lambda i: _natural(i.name)):
            got = _ioctl_flags_mtu(sock, iface.name)
            if got is None:
                continue
            flags, mtu = got
            if not (flags & _IFF_UP or session.opts.all):
                continue
            s = iface.stats
            counters: Counters | None = None
            if s is not None and s.rx_packets is not None:
                def n(*names: str, s: object = s) -> int:
                    total: int = sum(getattr(s, name) or 0 for name in names)
                    return total
                # /proc/net/dev's columns, which net-tools reads: errs + frame, drop (with
                # missed), fifo (net/core/net-procfs.c dev_seq_printf_stats)
                counters = (n("rx_packets"), n("rx_errors", "rx_length_errors", "rx_over_errors",
                                               "rx_crc_errors", "rx_frame_errors"),
                            n("rx_dropped", "rx_missed_errors"), n("rx_fifo_errors"),
                            n("tx_packets"), n("tx_errors"), n("tx_dropped"), n("tx_fifo_errors"))
            rows.append((iface, flags, mtu, counters))
    return rows


def _flag_letters(flags: int) -> str:
    return "".join(letter for bit, letter in _IF_FLAGS if flags & bit) or "[NO FLAGS]"


_COUNTER_FIELDS = ("rx_ok", "rx_err", "rx_drp", "rx_ovr", "tx_ok", "tx_err", "tx_drp", "tx_ovr")


def interface_record(iface: Interface, flags: int, mtu: int, counters: Counters | None
                     ) -> dict[str, object]:
    """``-i --json``: the fields and types ``jc --netstat`` reads from ``netstat -i``; counters
    null where the interface has none."""
    from pynetstat.textsafe import safe

    return {"iface": safe(iface.name), "mtu": mtu,
            **dict(zip(_COUNTER_FIELDS, counters or (None,) * 8)),
            "flg": _flag_letters(flags), "kind": "interface"}


def interfaces(session: Run, notes: list[str]) -> str:
    """``netstat -i``: ``ife_print_short``, one line per interface that is up (-a: all)."""
    import socket

    rows = _interface_rows(session, notes)
    out = ["Kernel Interface table\n"]
    if session.opts.extend:
        from pynetstat.nettools.ifconfig import long_form

        try:
            inet6 = session.proc.read_text("net/if_inet6")
        except OSError:
            inet6 = ""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            out += [long_form(iface, flags, mtu, sock, inet6) for iface, flags, mtu, _ in rows]
        return "".join(out)
    out.append("Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP "
               "TX-OVR Flg\n")
    for iface, flags, mtu, counters in rows:
        line = f"{iface.name[:15]:<15} {mtu:>5} "
        if counters is not None:
            line += ("{:>8} {:>6} {:>6} {:<6} {:>8} {:>6} {:>6} {:>6} ".format(*counters))
        else:
            line += f"{'     - no statistics available -':<56}"
        out.append(line + _flag_letters(flags) + "\n")
    return "".join(out)
