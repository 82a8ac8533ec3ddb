"""-r, -i and -s as net-tools prints them (lib/inet_gr.c ``rprint_fib``, lib/interface.c
``ife_print_short``, statistics.c).

-r reads /proc/net/route as net-tools does (its flags, MSS, window and irtt columns are in no
netlink reply pynetstat keeps); -i takes the counters from linux/links.py (RTM_GETLINK, else
/proc/net/dev) and each interface's flags and MTU from the kernel (SIOCGIFFLAGS, SIOCGIFMTU, as
net-tools); -s the counters linux/counters.py reads.
"""

from __future__ import annotations

import struct

# include/uapi/linux/route.h
_RTF_UP, _RTF_GATEWAY, _RTF_HOST, _RTF_REINSTATE, _RTF_DYNAMIC, _RTF_MODIFIED = 1, 2, 4, 8, 16, 32
_RTF_REJECT = 0x200
_ROUTE_FLAGS = ((_RTF_HOST, "H"), (_RTF_REINSTATE, "R"), (_RTF_DYNAMIC, "D"), (_RTF_MODIFIED, "M"))


def render(session, notes: list[str]) -> str:
    opts = session.opts
    if opts.route:
        return routes(session, notes)
    if opts.interfaces:
        return interfaces(session, notes)
    from pynetstat.linux.counters import collect
    from pynetstat.nettools.stats import render as stats_text

    snapshot = collect(None, session.proc)
    notes.extend(snapshot.notes)
    named = {k for k in ("tcp", "udp", "raw") if getattr(opts, k)}
    return stats_text(snapshot.counters.groups, named or {"tcp", "udp", "raw", "sctp"},
                      opts.inet6 and not opts.inet)


def _quad(hex_text: str) -> str:
    """/proc/net/route's address field (the u32 in host order, %08X) -> dotted quad."""
    import socket
    import sys

    return socket.inet_ntoa(struct.pack("<I" if sys.byteorder == "little" else ">I",
                                        int(hex_text, 16)))


def routes(session, notes: list[str]) -> str:
    """``netstat -r``: ``Flags   MSS Window  irtt`` (net-tools swaps -e there: -e gives
    ``Flags Metric Ref    Use``, -ee both)."""
    opts = session.opts
    ext = {0: 2, 1: 1}.get(opts.extend, 3)
    out = ["Kernel IP routing table\n"]
    head = "Destination     Gateway         Genmask         "
    out.append(head + {1: "Flags Metric Ref    Use Iface\n", 2: "Flags   MSS Window  irtt Iface\n",
                       3: "Flags Metric Ref    Use Iface    MSS   Window irtt\n"}[ext])
    try:
        text = session.proc.read_text("net/route")
    except OSError as e:
        notes.append(f"cannot read {session.proc.path('net/route')}: {e.strerror or e}")
        return "".join(out)
    names = None if opts.numeric_hosts else session.names
    for line in text.split("\n")[1:]:
        f = line.split()
        if len(f) < 11:
            continue
        iface, dest, gate, flags = f[0], _quad(f[1]), _quad(f[2]), int(f[3], 16)
        refcnt, use, metric, mask = int(f[4]), int(f[5]), int(f[6]), _quad(f[7])
        mss, window, irtt = int(f[8]), int(f[9]), int(f[10])
        if not flags & _RTF_UP:
            continue
        if names is not None:
            dest = "default" if dest == mask == "0.0.0.0" else (names.host(dest) or dest)
            gate = names.host(gate) or gate if gate != "0.0.0.0" else gate
        # "!" replaces U and G of a reject route, which has no gateway column either
        word = "!" if flags & _RTF_REJECT else "U" + ("G" if flags & _RTF_GATEWAY else "")
        word += "".join(letter for bit, letter in _ROUTE_FLAGS if flags & bit)
        dest, gate = dest[:15], gate[:15]
        if flags & _RTF_REJECT:
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


def _ioctl_flags_mtu(sock, name: str) -> tuple[int, int] | None:
    """The interface's flags and MTU as net-tools asks for them; None when it is gone."""
    import fcntl

    request = struct.pack("16s16x", name.encode("utf-8", "surrogateescape")[:15])
    try:
        flags = struct.unpack_from("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request), 16)[0]
        mtu = struct.unpack_from("i", fcntl.ioctl(sock, _SIOCGIFMTU, request), 16)[0]
    except OSError:
        return None
    return flags, mtu


def _natural(name: str) -> tuple:
    """lib/nstrcmp.c: names compare by their text, then by the number they end with."""
    stem = name.rstrip("0123456789")
    return (stem, int(name[len(stem):] or -1))


def interfaces(session, notes: list[str]) -> str:
    """``netstat -i``: ``ife_print_short``, one line per interface that is up (-a: all)."""
    import socket

    from pynetstat.linux.links import collect

    snapshot = collect(None, session.proc, session.netlink)
    notes.extend(snapshot.notes)
    out = ["Kernel Interface table\n"]
    if session.opts.extend:
        from pynetstat.nettools.ifconfig import long_form

        try:
            inet6 = session.proc.read_text("net/if_inet6")
        except OSError:
            inet6 = ""
    else:
        out.append("Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP "
                   "TX-OVR Flg\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for iface in sorted(snapshot.interfaces, key=lambda i: _natural(i.name)):
            got = _ioctl_flags_mtu(sock, iface.name)
            if got is None:
                continue
            flags, mtu = got
            if not (flags & _IFF_UP or session.opts.all):
                continue
            if session.opts.extend:
                out.append(long_form(iface, flags, mtu, sock, inet6))
                continue
            line = f"{iface.name[:15]:<15} {mtu:>5} "
            s = iface.stats
            if s is not None and s.rx_packets is not None:
                def n(*names, s=s):
                    return sum(getattr(s, name) or 0 for name in names)
                # /proc/net/dev's columns, which net-tools reads: errs + frame, drop (with
                # missed), fifo (net/core/net-procfs.c dev_seq_printf_stats)
                line += (f"{n('rx_packets'):>8} "
                         f"{n('rx_errors', 'rx_length_errors', 'rx_over_errors', 'rx_crc_errors', 'rx_frame_errors'):>6} "
                         f"{n('rx_dropped', 'rx_missed_errors'):>6} {n('rx_fifo_errors'):<6} "
                         f"{n('tx_packets'):>8} {n('tx_errors'):>6} {n('tx_dropped'):>6} "
                         f"{n('tx_fifo_errors'):>6} ")
            else:
                line += f"{'     - no statistics available -':<56}"
            line += "".join(letter for bit, letter in _IF_FLAGS if flags & bit) or "[NO FLAGS]"
            out.append(line + "\n")
    return "".join(out)
