"""Interfaces and their counters: RTM_GETLINK with IFLA_STATS64, else /proc/net/dev.

One collector for every view that lists interfaces (-e, and -r's interface list). Neither source
failing raises: the snapshot then has no source, and says why in its notes.
"""

from __future__ import annotations

from pynetstat.errors import BackendUnavailable, ParseError
from pynetstat.linux.rtnetlink import (
    address_request,
    decode_addresses,
    decode_links,
    dump_losses,
    link_request,
    parse_proc_dev,
    read_dump,
)
from pynetstat.model.stats import LinksSnapshot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.linux.netlink import DumpStats, NetlinkSource, Reply
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.model.stats import Interface
    from pynetstat.options import Options
    from pynetstat.select import Filter


def _decode(reply: Reply, stats: DumpStats) -> Iterator[Interface]:
    return decode_links(reply, stats, whole=True)


def collect(opts: Options | None, procfs: ProcFS, netlink: NetlinkSource | None) -> LinksSnapshot:
    """RTM_GETLINK, else /proc/net/dev, else a snapshot with no interfaces and a note."""
    try:
        interfaces, stats = read_dump(netlink, link_request(), _decode)
        return LinksSnapshot(interfaces, "netlink", None, dump_losses(stats, "interface"))
    except (BackendUnavailable, OSError) as e:  # NetlinkError is one; OSError: see sockets.py
        reason = str(e)
    path = procfs.path("net/dev")
    try:
        return LinksSnapshot(parse_proc_dev(procfs.read_text("net/dev"), path), "procfs", reason)
    except FileNotFoundError:
        # Named as the sockets' note names a missing /proc/net file: the file the kernel has.
        reason += ", and there is no /proc/net/dev"
    except OSError as e:
        reason += f"; {path}: {e.strerror or e}"
    except ParseError as e:
        reason += f"; {e}"
    return LinksSnapshot([], None, reason, [f"interfaces could not be read: {reason}"])


def link_table(netlink: NetlinkSource | None
               ) -> tuple[dict[str, tuple[int, list[str]]], str | None]:
    """``({name: (ifindex, its addresses)}, None)`` for ``--interface`` (select.Filter.bind):
    two light dumps, RTM_GETLINK and RTM_GETADDR, made only when a filter names an interface.
    Without netlink: the names and indexes of ``if_nameindex`` (an ioctl), no addresses, and why.
    (An RTM_GETLINK message always has an index; a link without one could not be bound.)"""
    try:
        links, _ = read_dump(netlink, link_request(), decode_links)
        addresses, _ = read_dump(netlink, address_request(), decode_addresses)
    except (BackendUnavailable, OSError) as e:
        from socket import if_nameindex

        return {name: (index, []) for index, name in if_nameindex()}, str(e)
    table: dict[str, tuple[int, list[str]]] = {link.name: (link.index, [])
                                               for link in links if link.index is not None}
    names = {link.index: link.name for link in links}
    for index, address in addresses:
        if index in names:
            table[names[index]][1].append(address)
    return table, None


def kept_interfaces(filt: Filter, netlink: NetlinkSource | None) -> set[str] | None:
    """The interface names a filter's ``--interface`` keeps (the views of interfaces, routes
    and groups show only their rows; the other conditions are on sockets); ``None`` when no
    condition names an interface."""
    if not filt.interface_names():
        return None
    links, _why = link_table(netlink)
    selection = filt.bind(links)
    if not selection.devices:
        return None
    return {name for name, (index, _) in links.items() if selection.keeps_interface(index)}
