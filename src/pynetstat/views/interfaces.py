"""-e: interface statistics in the spec's "Interface Statistics" layout, summed over all interfaces.

Collected by ``linux/links.py`` (RTM_GETLINK with IFLA_STATS64, else /proc/net/dev).

How Linux's counters map onto the spec's rows (include/uapi/linux/if_link.h):

* Bytes: rx_bytes / tx_bytes. Packets (a row the spec lacks; without it nothing would say how many
  packets were sent): rx_packets / tx_packets.
* Non-unicast received: ``multicast``, the driver's count and no more (many count broadcast in
  it; veth and lo count nothing, so their broadcasts are "unicast"). Unicast received:
  rx_packets minus that. Linux keeps no count of packets *sent* by
  cast, so both Sent cells are not available.
* Discards: rx_dropped + rx_missed_errors / tx_dropped. Errors: rx_errors / tx_errors.
* Unknown protocols: not available. Linux keeps no separate count: a frame of an ethertype no
  protocol handles is counted in rx_dropped (``__netif_receive_skb_core``, net/core/dev.c), so
  it is in Discards; rx_nohandler counts frames dropped on exact-delivery devices such as an
  inactive bond slave, which is something else.
"""

from __future__ import annotations

from pynetstat.render.counts import fmt
from pynetstat.textsafe import json_text, safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pynetstat.model.stats import Interface, LinksSnapshot, LinkStats
    from pynetstat.options import Options

ROWS = (("bytes", "Bytes"), ("packets", "Packets"), ("unicast", "Unicast packets"),
        ("non_unicast", "Non-unicast packets"), ("discards", "Discards"), ("errors", "Errors"),
        ("unknown_protocols", "Unknown protocols"))
NOTE = ("n/a: not counted by Linux (sent packets are not counted by cast; a frame of an unknown\n"
        "protocol is counted in Discards) or not given by this source.")


def summarize(stats: LinkStats | None) -> dict[str, tuple[int | None, int | None]]:
    """The spec's rows for one interface: ``{"bytes": (received, sent), ...}``."""
    if stats is None:
        return {key: (None, None) for key, _ in ROWS}
    rx_packets, multicast = stats.rx_packets, stats.multicast
    unicast = None
    if rx_packets is not None and multicast is not None and multicast <= rx_packets:
        unicast = rx_packets - multicast
    discards = stats.rx_dropped
    if discards is not None and stats.rx_missed_errors is not None:
        discards += stats.rx_missed_errors
    return {
        "bytes": (stats.rx_bytes, stats.tx_bytes),
        "packets": (rx_packets, stats.tx_packets),
        "unicast": (unicast, None),
        "non_unicast": (multicast, None),
        "discards": (discards, stats.tx_dropped),
        "errors": (stats.rx_errors, stats.tx_errors),
        "unknown_protocols": (None, None),  # counted in rx_dropped: see the module docstring
    }


def total(interfaces: list[Interface]) -> dict[str, tuple[int | None, int | None]]:
    """Rows summed over all interfaces; a cell is ``None`` if any interface lacks it."""
    sums: dict[str, list[int | None]] = {key: [0, 0] for key, _ in ROWS}
    for interface in interfaces:
        for key, pair in summarize(interface.stats).items():
            cell = sums[key]
            for i in (0, 1):
                have, more = cell[i], pair[i]
                cell[i] = None if have is None or more is None else have + more
    return {key: (rx, tx) for key, (rx, tx) in sums.items()}


def _table(title: str, rows: dict[str, tuple[int | None, int | None]]) -> list[str]:
    cells = [(label, fmt(rows[key][0]),
              "" if key == "unknown_protocols" else fmt(rows[key][1])) for key, label in ROWS]
    label_w = max(len(label) for label, _, _ in cells) + 6
    rx_w = max(14, *(len(rx) + 2 for _, rx, _ in cells))
    tx_w = max(16, *(len(tx) + 2 for _, _, tx in cells))
    out = [title, "", " " * label_w + "Received".rjust(rx_w) + "Sent".rjust(tx_w), ""]
    out += [(label.ljust(label_w) + rx.rjust(rx_w) + tx.rjust(tx_w)).rstrip()
            for label, rx, tx in cells]
    return out


def render_text(snapshot: LinksSnapshot, opts: Options) -> str:
    if snapshot.source is None:
        return "\n".join(["Interface Statistics", "",
                          f"  Not available: {snapshot.fallback_reason}", ""])
    out = _table("Interface Statistics", total(snapshot.interfaces))
    if opts.verbose:
        for interface in snapshot.interfaces:
            index = "" if interface.index is None else f" (index {interface.index})"
            out += ["", *_table(f"Interface Statistics: {safe_token(interface.name)}{index}",
                                summarize(interface.stats))]
    out += ["", NOTE, ""]
    return "\n".join(out)


def _json_rows(rows: dict[str, tuple[int | None, int | None]]) -> dict[str, Any]:
    return {key: {"received": rx, "sent": None if key == "unknown_protocols" else tx}
            for key, (rx, tx) in rows.items()}


def to_json(snapshot: LinksSnapshot, opts: Options) -> dict[str, Any]:
    return {
        "source": snapshot.source,
        "fallback_reason": snapshot.fallback_reason,
        "total": None if snapshot.source is None else _json_rows(total(snapshot.interfaces)),
        "interfaces": [{"index": i.index, "name": json_text(i.name), "hw_address": i.hw_address,
                        "statistics": _json_rows(summarize(i.stats)),
                        "kernel": None if i.stats is None else i.stats.as_dict()}
                       for i in snapshot.interfaces],
    }


def notes(snapshot: LinksSnapshot) -> list[str]:
    """The stderr lines for what could not be read."""
    return list(snapshot.notes)


def counters(snapshot: LinksSnapshot) -> dict[str, int]:
    """``{"lo.rx_bytes": 3193, "eth0.tx_packets": 616, ...}``: every counter the source gave."""
    flat = {}
    for interface in snapshot.interfaces:
        if interface.stats is not None:
            for field, value in interface.stats.as_dict().items():
                if value is not None:
                    flat[f"{interface.name}.{field}"] = value
    return flat
