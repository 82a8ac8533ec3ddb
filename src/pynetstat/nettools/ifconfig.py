"""``netstat -ie``: each interface in ifconfig's long form (net-tools lib/interface.c
``ife_print_long``), with the counters of linux/links.py and the addresses and settings net-tools
asks the kernel for (SIOCGIF* ioctls on the interface's name, /proc/net/if_inet6).
"""

from __future__ import annotations

import socket
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.model.stats import Interface

# include/uapi/linux/sockios.h
_SIOCGIFADDR, _SIOCGIFBRDADDR, _SIOCGIFNETMASK, _SIOCGIFDSTADDR = 0x8915, 0x8919, 0x891B, 0x8917
_SIOCGIFHWADDR, _SIOCGIFTXQLEN = 0x8927, 0x8942
_IFF_BROADCAST, _IFF_POINTOPOINT = 0x2, 0x10
# include/uapi/linux/if.h, in ife_print_long's order
FLAG_WORDS = ((0x1, "UP"), (0x2, "BROADCAST"), (0x4, "DEBUG"), (0x8, "LOOPBACK"),
              (0x10, "POINTOPOINT"), (0x20, "NOTRAILERS"), (0x40, "RUNNING"), (0x80, "NOARP"),
              (0x100, "PROMISC"), (0x200, "ALLMULTI"), (0x800, "SLAVE"), (0x400, "MASTER"),
              (0x1000, "MULTICAST"))
# include/uapi/linux/if_arp.h ARPHRD_* -> (name, title, prints an address), lib/hw.c
_HW = {1: ("ether", "Ethernet", True), 772: ("loop", "Local Loopback", False),
       0xFFFE: ("unspec", "UNSPEC", True)}
_UNITS = ((1 << 60, "EiB"), (1 << 50, "PiB"), (1 << 40, "TiB"), (1 << 30, "GiB"),
          (1 << 20, "MiB"), (1 << 10, "KiB"))


def unit(value: int) -> str:
    """lib/interface.c ``ife_unit``: ``804586971 -> "767.3 MiB"`` (tenths, truncated).

    >>> unit(804586971)
    '767.3 MiB'
    """
    for size, name in _UNITS:
        if value > size:
            tenths = value * 10 // size if name != "EiB" else value // (size // 10)
            return f"{tenths // 10}.{tenths % 10} {name}"
    return f"{value}.0 B"


def _ioctl(sock: socket.socket, request: int, name: bytes) -> bytes | None:
    import fcntl

    try:
        return fcntl.ioctl(sock, request, struct.pack("16s16x", name))
    except OSError:
        return None


def _ipv4(reply: bytes | None) -> str | None:
    return None if reply is None else socket.inet_ntoa(reply[20:24])


def inet6_lines(text: str, name: str) -> list[str]:
    """/proc/net/if_inet6 lines of ``name`` -> ifconfig's ``inet6 ... prefixlen .. scopeid ..``."""
    out: list[str] = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 6 or f[5] != name:
            continue
        address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(f[0]))
        plen, scope = int(f[2], 16), int(f[3], 16)
        words = []
        rest = scope
        if rest & 0x0080:  # IPV6_ADDR_COMPATv4
            words.append("compat")
            rest -= 0x0080
        if rest == 0:
            words.append("global")
        words += [w for bit, w in ((0x20, "link"), (0x40, "site"), (0x10, "host")) if rest & bit]
        out.append(f"        inet6 {address}  prefixlen {plen}  scopeid 0x{scope:x}"
                   + (f"<{','.join(words)}>" if words else "") + "\n")
    return out


def long_form(iface: Interface, flags: int, mtu: int, sock: socket.socket, inet6: str) -> str:
    """One interface's block (ending in its blank line)."""
    name = iface.name.encode("utf-8", "surrogateescape")[:15]
    words = ",".join(w for bit, w in FLAG_WORDS if flags & bit)
    out = [f"{iface.name}: flags={flags}<{words}>  mtu {mtu}\n"]
    address = _ipv4(_ioctl(sock, _SIOCGIFADDR, name))
    if address is not None:
        line = f"        inet {address}  netmask {_ipv4(_ioctl(sock, _SIOCGIFNETMASK, name))}"
        if flags & _IFF_BROADCAST:
            line += f"  broadcast {_ipv4(_ioctl(sock, _SIOCGIFBRDADDR, name))}"
        if flags & _IFF_POINTOPOINT:
            line += f"  destination {_ipv4(_ioctl(sock, _SIOCGIFDSTADDR, name))}"
        out.append(line + "\n")
    out += inet6_lines(inet6, iface.name)
    hw = _ioctl(sock, _SIOCGIFHWADDR, name)
    family = struct.unpack_from("H", hw, 16)[0] if hw else 0xFFFE
    hwname, title, shows = _HW.get(family, _HW[0xFFFE])
    line = f"        {hwname}"
    if shows and hw is not None:
        raw = hw[18:24] if hwname == "ether" else hw[18:34]
        sep = ":" if hwname == "ether" else "-"
        line += " " + sep.join(f"{b:02x}" if hwname == "ether" else f"{b:02X}" for b in raw)
    qlen = _ioctl(sock, _SIOCGIFTXQLEN, name)
    if qlen is not None:
        line += f"  txqueuelen {struct.unpack_from('i', qlen, 16)[0]}"
    out.append(f"{line}  ({title})\n")
    s = iface.stats
    if s is not None and s.rx_packets is not None:
        def n(*names: str) -> int:
            total: int = sum(getattr(s, k) or 0 for k in names)
            return total
        # /proc/net/dev's columns (net/core/net-procfs.c), which net-tools reads
        out.append(f"        RX packets {n('rx_packets')}  bytes {n('rx_bytes')} ({unit(n('rx_bytes'))})\n")
        if n("rx_compressed"):
            out.append(f"        RX compressed {n('rx_compressed')}\n")
        out.append(f"        RX errors {n('rx_errors')}  dropped {n('rx_dropped', 'rx_missed_errors')}"
                   f"  overruns {n('rx_fifo_errors')}  frame "
                   f"{n('rx_length_errors', 'rx_over_errors', 'rx_crc_errors', 'rx_frame_errors')}\n")
        out.append(f"        TX packets {n('tx_packets')}  bytes {n('tx_bytes')} ({unit(n('tx_bytes'))})\n")
        if n("tx_compressed"):
            out.append(f"        TX compressed {n('tx_compressed')}\n")
        carrier = n("tx_carrier_errors", "tx_aborted_errors", "tx_window_errors",
                    "tx_heartbeat_errors")
        out.append(f"        TX errors {n('tx_errors')}  dropped {n('tx_dropped')} overruns "
                   f"{n('tx_fifo_errors')}  carrier {carrier}  collisions {n('collisions')}\n")
    return "".join(out) + "\n"
