"""The audit's sign 5: who can see the link's frames or the host's packets. Packet sockets
(AF_PACKET: whole frames, promiscuous when a membership asks) and RAW sockets (AF_INET/6,
SOCK_RAW: every packet of their IP protocol), each as a ``Fact`` with the PIDs that hold it.

Sources in order, as for every kind: sock_diag (packet_diag, raw_diag), then /proc/net/packet,
raw, raw6 when the diag module is missing (this kernel has packet_diag and no raw_diag).
Owners come from the same /proc/*/fd walk as the TCP/UDP sockets' (``OwnerMap`` by inode).
"""

from __future__ import annotations

import os

from pynetstat.errors import BackendUnavailable, ParseError
from pynetstat.linux.netlink import DumpStats
from pynetstat.linux.procfs import read_file
from pynetstat.model.evidence import Fact
from pynetstat.model.sockets import ETHERTYPES, IP_PROTOCOLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.linux.diagrecords import PacketSocket, RawSocket
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.linux.owners import OwnerMap
    from pynetstat.linux.procfs import ProcFS

PACKET_MR_PROMISC = 1  # include/uapi/linux/if_packet.h
SOCK_TYPES = {1: "stream", 2: "dgram", 3: "raw"}  # include/linux/net.h


def interface_names(sys_root: str) -> dict[int, str]:
    """``ifindex -> name`` of this namespace's interfaces (``/sys/class/net/NAME/ifindex``)."""
    base = f"{sys_root}/class/net"
    names: dict[int, str] = {}
    try:
        listed = os.listdir(base)
    except OSError:
        return names
    for name in listed:
        try:
            names[int(read_file(f"{base}/{name}/ifindex"))] = name
        except (OSError, ValueError):
            continue
    return names


def packet_sockets(netlink: NetlinkSource | None, procfs: ProcFS, owners: OwnerMap, ifnames: dict[int, str],
                   any_promiscuous: bool, notes: list[str]) -> list[tuple[Fact, tuple[int, ...]]]:
    """Every packet socket as ``(Fact, holder PIDs)``.

    /proc/net/packet lists no memberships; but the kernel sets IFF_PROMISC on a device while any
    socket holds it promiscuous (``__dev_set_promiscuity``, net/core/dev.c), so with no
    promiscuous interface (``any_promiscuous`` False) no socket can be: promiscuous False. With
    one, /proc cannot tell which socket: None.
    """
    from pynetstat.linux import packetdiag

    try:
        if netlink is None:
            raise BackendUnavailable("netlink disabled")
        show = packetdiag.PACKET_SHOW_INFO | packetdiag.PACKET_SHOW_MCLIST
        socks: list[PacketSocket] = list(packetdiag.decode_dump(netlink.dump(packetdiag.build_request(show)),
                                            DumpStats(), show))
        source = "sock_diag packet"
    except (BackendUnavailable, OSError) as e:
        from pynetstat.linux.procfs_other import parse_packet

        source = procfs.path("net/packet")
        try:
            socks = parse_packet(procfs.read_text("net/packet"), source)
        except FileNotFoundError:
            return []  # no AF_PACKET in this kernel
        except (OSError, ParseError) as e2:
            notes.append(f"packet sockets not checked: {e}; {e2}")
            return []
    found: list[tuple[Fact, tuple[int, ...]]] = []
    promiscuous_on: list[str] | None
    promiscuous: bool | None
    for s in socks:
        if s.memberships is not None:
            promiscuous_on = sorted({ifnames.get(m[0], str(m[0])) for m in s.memberships
                                     if m[1] == PACKET_MR_PROMISC})
            promiscuous = bool(promiscuous_on)
        else:
            promiscuous_on, promiscuous = None, (None if any_promiscuous else False)
        value = {"inode": s.inode, "type": SOCK_TYPES.get(s.type, str(s.type)),
                 "protocol": s.protocol, "protocol_name": ETHERTYPES.get(s.protocol),
                 "interface": "any" if not s.ifindex else ifnames.get(s.ifindex, str(s.ifindex)),
                 "promiscuous": promiscuous, "promiscuous_on": promiscuous_on, "uid": s.uid}
        found.append((Fact("packet socket", value, source), owners.pids(s.inode)))
    return found


def raw_sockets(netlink: NetlinkSource | None, procfs: ProcFS, owners: OwnerMap, ifnames: dict[int, str],
                notes: list[str]) -> list[tuple[Fact, tuple[int, ...]]]:
    """Every RAW socket of IPv4 and IPv6 as ``(Fact, holder PIDs)``."""
    found: list[tuple[Fact, tuple[int, ...]]] = []
    for family in (4, 6):
        name = "raw" if family == 4 else "raw6"
        socks, source = _raw_of(netlink, procfs, family, name, notes)
        for s in socks:
            value = {"inode": s.inode, "family": f"ipv{family}",
                     "protocol": s.protocol, "protocol_name": IP_PROTOCOLS.get(s.protocol),
                     "local_address": s.local_address, "remote_address": s.remote_address,
                     "interface": None if s.ifindex is None else
                     ("any" if not s.ifindex else ifnames.get(s.ifindex, str(s.ifindex))),
                     "uid": s.uid}
            found.append((Fact("raw socket", value, source), owners.pids(s.inode)))
    return found


def _raw_of(netlink: NetlinkSource | None, procfs: ProcFS, family: int, name: str,
            notes: list[str]) -> tuple[list[RawSocket], str]:
    from pynetstat.linux import rawdiag

    try:
        if netlink is None:
            raise BackendUnavailable("netlink disabled")
        reply = netlink.dump(rawdiag.build_request(family))
        return list(rawdiag.decode_dump(reply, DumpStats(), family)), f"sock_diag {name}"
    except (BackendUnavailable, OSError):
        pass  # no raw_diag module (CONFIG_INET_RAW_DIAG): the /proc file says the same
    from pynetstat.linux.procfs_other import parse_raw

    source = procfs.path(f"net/{name}")
    try:
        return parse_raw(procfs.read_text(f"net/{name}"), source, family), source
    except FileNotFoundError:
        return [], source  # no IPv6 here
    except (OSError, ParseError) as e:
        notes.append(f"{name} sockets not checked: {e}")
        return [], source
