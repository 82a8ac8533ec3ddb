"""CSV rows (RFC 4180, through the ``csv`` module): the connection table, -e, -s and -r, each a
header row then one record per row. docs/csv.md is the reference.

A row holds the same values as the JSON row of the same thing (render/jsonout.py, the views'
``to_json``), one cell per scalar field: a number as it is, ``true``/``false``, an empty cell for
``null``; a string through ``textsafe.csv_text`` (no raw control character ever reaches a cell);
a list or object (a connection's ``owners``, a -b owner's details) as its JSON text, which is
ASCII. ``cell`` is that rule, for any JSON value.

Interval mode puts ``timestamp``, ``pass`` and ``host`` in front of every row (``INTERVAL``), and
``--changes`` a ``change`` column (and the state before, for a connection); the header is written
once, at the start of the stream.
"""

from __future__ import annotations

import csv
import io
import json
from itertools import repeat

from pynetstat.kinds import BY_PROTOCOL
from pynetstat.model.fields import CONNECTION_JSON
from pynetstat.model.sockets import kernel_state_name, spec_state_name
from pynetstat.render.endpoints import Memo, is_ipv4_mapped, is_link_local
from pynetstat.render.jsonout import (
    PLAIN_CELLS,
    batch_extensions,
    batch_peers,
    connection_record,
    is_plain,
    mapped_cells,
    owners_value,
    peer_cells,
    uid_cells,
)
from pynetstat.textsafe import csv_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from pynetstat.kinds import SocketKind
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.resolve import Names

    OwnerJson = Callable[..., dict[str, Any]]

# The columns every row of an interval stream starts with (the envelope of a JSON Lines record).
INTERVAL = ("timestamp", "pass", "host")
CONNECTION_COLUMNS = tuple(name for name, _type in CONNECTION_JSON)
# --changes of the connection table: what happened to the socket, and the state it had before
# (a change of state); both empty on the rows of the first, whole display.
CONNECTION_CHANGE = ("change", "previous_state")

_BOOL = {False: "false", True: "true"}
_NO_PEER = {0: ""}  # map(_NO_PEER.get, inodes, inodes): the inode, an empty cell for 0


def cell(value: object) -> object:
    """One JSON value as a CSV cell (the csv module writes ``None`` as an empty cell).

    >>> [cell(v) for v in (None, True, 3, "a\\nb", [{"pid": 1, "name": "x"}])]
    [None, 'true', 3, 'a\\\\nb', '[{"pid": 1, "name": "x"}]']
    """
    if value is None or type(value) is int or type(value) is float:
        return value
    if type(value) is bool:
        return _BOOL[value]
    if type(value) is str:
        return csv_text(value)
    return json.dumps(value)


def record_cells(record: dict[str, Any], columns: Iterable[str]) -> list[object]:
    return [cell(record.get(name)) for name in columns]


# --- -d, -i, --info, --timers, --memory: the JSON row's extension objects, one column per key ---

def spread_columns(groups: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The extension objects of the JSON row that the groups asked for fill (``timer``, ``memory``,
    ``tcp_info``), each with its keys: in CSV each key is a column of its own (``tcp_info_rtt_us``),
    so a spreadsheet or ``cut`` reads a number, not JSON text. ``dscp`` is a number already."""
    if not groups:
        return {}
    from pynetstat.render.extensions_json import EXTENSION_OBJECTS

    return {column: keys for column, (fillers, keys) in EXTENSION_OBJECTS.items()
            if set(fillers) & set(groups)}


def connection_columns(spread: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The JSON row's columns, an object of ``spread`` replaced by a column per key, in place."""
    return tuple(column for name in CONNECTION_COLUMNS
                 for column in ([f"{name}_{key}" for key in spread[name]] if name in spread
                                else [name]))


def row_cells(record: dict[str, Any], spread: dict[str, tuple[str, ...]]) -> list[object]:
    """A JSON row as the cells of ``connection_columns(spread)`` (an object that is null, a UDP
    socket's ``tcp_info``, gives empty cells)."""
    cells: list[object] = []
    for name, value in record.items():
        keys = spread.get(name)
        if keys is None:
            cells.append(cell(value))
        else:
            cells.extend(cell(value.get(key)) if value else None for key in keys)
    return cells


# --netns, --all-netns: the row's namespace (JSON's ``netns`` object, model/netns_labels.py
# ``netns_json``), one column per scalar, after the row's own columns. A row without a
# container (or pod) has those cells empty.
NETNS_COLUMNS = ("netns_inode", "netns_label", "netns_name", "netns_container_id",
                 "netns_container_runtime", "netns_container_name", "netns_pod_uid",
                 "netns_pod_name")


def netns_values(doc: dict[str, Any]) -> list[object]:
    """JSON's ``netns`` object as the values of ``NETNS_COLUMNS``.

    >>> netns_values({"inode": 4026532456, "label": "web", "name": None,
    ...               "container": {"id": "1a2b", "runtime": "docker", "name": "web"}, "pod": None})
    [4026532456, 'web', None, '1a2b', 'docker', 'web', None, None]
    """
    container, pod = doc["container"] or {}, doc["pod"] or {}
    return [doc["inode"], doc["label"], doc["name"], container.get("id"),
            container.get("runtime"), container.get("name"), pod.get("uid"), pod.get("name")]


class NetnsCells:
    """The namespace cells of a batch's rows: the text the csv module writes for them, with the
    comma before, made once per namespace. Namespaces are known by ``id``: one of these serves
    one display or one pass's changes, while the namespace records it met are alive."""

    def __init__(self) -> None:
        self.texts: dict[int, str] = {}  # id(namespace) -> ",inode,label,..."
        self.buffer = io.StringIO()

    def text(self, ns: NetNamespace | None) -> str:
        if ns is None:
            return "," * len(NETNS_COLUMNS)
        text = self.texts.get(id(ns))
        if text is None:
            from pynetstat.model.netns_labels import netns_json

            csv.writer(self.buffer).writerow(
                ["", *(cell(v) for v in netns_values(netns_json(ns)))])
            text = self.texts[id(ns)] = self.buffer.getvalue()[:-2]
            self.buffer.seek(0)
            self.buffer.truncate()
        return text

    def append(self, rows: str, ns: NetNamespace | None) -> str:
        """Each row of ``rows`` (CRLF-ended; a cell never holds a line end) with the cells."""
        return rows.replace("\r\n", self.text(ns) + "\r\n")


class ConnectionRows:
    """The connection table's rows as CSV text, a batch at a time, each row starting with the
    cells ``lead`` (interval mode's timestamp, pass, host, ...).

    ``reference`` is the definition: the values of ``connection_record`` through ``cell``,
    written by the csv module. A plain batch (``jsonout.is_plain``: what JSON fills a template
    for) is written the same way, faster: one ``%`` template per row, each cell's text taken
    from a cache of what the csv module writes for that value (two and a half times faster at
    200,000 sockets). tests/test_csv_batches.py checks that the two give the same text."""

    def __init__(self, with_owners: bool, names: Names | None, ifname: Callable[[int], str],
                 owner_json: OwnerJson | None, lead: tuple[object, ...] = (),
                 ext_json: Callable[..., dict[str, Any]] | None = None,
                 spread: dict[str, tuple[str, ...]] | None = None):
        self.ext_json = ext_json  # Extensions -> the row's extension objects (--info, ...)
        self.spread = spread or {}  # spread_columns of the groups asked for
        self.with_owners = with_owners
        self.names = names
        self.ifname = ifname
        self.owner_json = owner_json
        self.lead = lead
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        quoted = self.quoted
        self.link_local = Memo(lambda a: _BOOL[is_link_local(a)])
        self.mapped = Memo(is_ipv4_mapped)
        self.tcp_state = Memo(lambda state: quoted(spec_state_name(state)))
        self.kernel_state = Memo(lambda state: quoted(kernel_state_name(state)))
        self.uid = Memo(str, {None: ""})
        self.pid = Memo(lambda owners: str(owners[0].pid) if owners else "")
        self.owners = Memo(lambda owners: quoted(json.dumps(owners_value(owners, owner_json))))
        self.templates: dict[str, str] = {}  # kind name -> the row's template

    def _take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text

    def quoted(self, text: str) -> str:
        """What the csv module writes for ``text`` as one cell of a row of several."""
        self.writer.writerow((text, None))
        return self._take()[:-3]  # without ",\r\n"

    def reference(self, batch: SocketBatch) -> str:
        owners = self.with_owners
        spread = self.spread
        self.writer.writerows(
            (*self.lead, *row_cells(connection_record(sock, found if owners else None, self.names,
                                                      self.ifname, self.owner_json, ext, peer),
                                    spread))
            for (sock, found), ext, peer in zip(batch.rows(), batch_extensions(batch, self.ext_json),
                                                batch_peers(batch, owners)))
        return self._take()

    def text(self, batch: SocketBatch) -> str:
        """The batch's rows, CRLF after each."""
        kind = BY_PROTOCOL[(batch.proto, batch.family)]
        # The template knows the plain row's columns; rows with extensions go record by record.
        if self.ext_json is not None or not is_plain(kind, batch, self.names):
            return self.reference(batch)
        n = len(batch)
        local = batch.local_address
        pids: Iterable[str]
        owner_lists: Iterable[str]
        if self.with_owners:
            owners = batch.owners if batch.owners is not None else ((),) * n
            pids, owner_lists = map(self.pid.__getitem__, owners), map(self.owners.__getitem__, owners)
        else:
            pids, owner_lists = repeat("", n), repeat("", n)
        peer_inodes: Iterable[object]
        peer_pids: Iterable[str]
        peer_lists: Iterable[str]
        peer = batch.peer
        if self.with_owners and batch.peer_owners is not None and peer is not None:
            peer_inodes = map(_NO_PEER.get, peer, peer)
            peer_pids, peer_lists = peer_cells(peer, batch.peer_owners, self.pid, self.owners, "")
        else:
            peer_inodes, peer_pids, peer_lists = repeat("", n), repeat("", n), repeat("", n)
        columns = {
            "local_address": local, "local_port": batch.local_port,
            "remote_address": batch.remote_address, "remote_port": batch.remote_port,
            "state": map(self.tcp_state.__getitem__, batch.state),
            "kernel_state": map(self.kernel_state.__getitem__, batch.state),
            "link_local": map(self.link_local.__getitem__, local),
            "ipv4_mapped": mapped_cells(batch, self.mapped),
            "recv_q": batch.recv_q, "send_q": batch.send_q,
            "uid": uid_cells(batch, self.uid),  # None: an empty cell
            "inode": batch.inode, "cookie": batch.cookie, "pid": pids, "owners": owner_lists,
            "peer_inode": peer_inodes, "peer_pid": peer_pids, "peer_owners": peer_lists,
        }
        filled = _FILLED if kind.has_state else _FILLED_STATELESS
        return "".join(map(self._template(kind).__mod__, zip(*(columns[name] for name in filled))))

    def _template(self, kind: SocketKind) -> str:
        template = self.templates.get(kind.name)
        if template is None:
            # The lead as the csv module writes it (a host name may need quotes), then the fixed
            # cells: words and empty cells, which need none.
            lead = ""
            if self.lead:
                self.writer.writerow((*self.lead, None))
                lead = self._take()[:-2].replace("%", "%%")  # keeps its trailing ","
            fixed = {"proto": kind.name, "family": "ipv6" if kind.family == 6 else "ipv4"}
            template = self.templates[kind.name] = lead + ",".join(
                fixed[name] if name in fixed else
                PLAIN_CELLS[name] if name in PLAIN_CELLS and (name != "state" or kind.has_state)
                else "" for name in CONNECTION_COLUMNS) + "\r\n"
        return template


# How a plain batch writes each column: JSON's conversions (jsonout.PLAIN_CELLS); a column not
# there is the same for every row, an empty cell. ``state`` is empty for a kind without states.
_FILLED = tuple(name for name in CONNECTION_COLUMNS if name in PLAIN_CELLS)
_FILLED_STATELESS = tuple(name for name in _FILLED if name != "state")


# --- -e, -s, -r: one table per view, made from the view's JSON (``to_json``) ----------------

def _interface_columns() -> tuple[str, ...]:
    from pynetstat.model.stats import LINK_STAT_FIELDS
    from pynetstat.views.interfaces import ROWS

    return ("row", "index", "name", "hw_address",
            *(f"{key}_{way}" for key, _label in ROWS for way in ("received", "sent")),
            *LINK_STAT_FIELDS)


def _interface_records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``total`` row (the spec's summed table), then one row per interface with its own
    counts and every kernel counter."""
    def flat(statistics: dict[str, Any] | None) -> dict[str, Any]:
        return {f"{key}_{way}": value for key, pair in (statistics or {}).items()
                for way, value in pair.items()}

    out = []
    if doc["total"] is not None:
        out.append({"row": "total", **flat(doc["total"])})
    for i in doc["interfaces"]:
        out.append({"row": "interface", "index": i["index"], "name": i["name"],
                    "hw_address": i["hw_address"], **flat(i["statistics"]), **(i["kernel"] or {})})
    return out


STATISTICS_COLUMNS = ("section", "available", "kernel", "counter", "value", "received", "sent")


def _statistics_records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per counter line of a section (ICMP's lines have ``received`` and ``sent``, the
    others a ``value``); with -v the kernel's further counters, ``kernel`` true and the counter
    named ``Group.Name``. A section this kernel lacks is one row, ``available`` false."""
    out = []
    for section in doc["sections"]:
        base = {"section": section["name"], "available": section["available"]}
        if not section["available"]:
            out.append(base)
            continue
        for label, value in section["counters"].items():
            row = {**base, "kernel": False, "counter": label}
            if isinstance(value, dict):
                row.update(value)
            else:
                row["value"] = value
            out.append(row)
        for group, counters in (section["kernel"] or {}).items():
            out.extend({**base, "kernel": True, "counter": f"{group}.{name}", "value": value}
                       for name, value in counters.items())
    return out


ROUTE_FIELDS = ("family", "table", "table_name", "destination", "prefix_length", "netmask",
                "nexthop_id", "metric", "type", "scope", "protocol", "preferred_source")
PATH_FIELDS = ("gateway", "interface", "ifindex", "weight", "nexthop_id")
# ``route``: the route's number in the listing, shared by the rows of its paths (two routes
# can agree in every other field: fe80::/64 on two interfaces).
ROUTE_COLUMNS = ("route", *ROUTE_FIELDS, *(f"path_{name}" for name in PATH_FIELDS))


def route_records(routes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per path of each route (``path_``: its gateway, interface, weight, nexthop
    object), the route's number and own fields repeated; a route with no path (blackhole, ...)
    is one row."""
    out = []
    for number, route in enumerate(routes, 1):
        base = {"route": number, **{name: route[name] for name in ROUTE_FIELDS}}
        out += [{**base, **{f"path_{name}": hop[name] for name in PATH_FIELDS}}
                for hop in route["nexthops"]] or [base]
    return out


def _routes_records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return route_records(route for family in ("ipv4_routes", "ipv6_routes")
                         for route in doc[family] or ())


# view key (modes.SECTIONS) -> (its columns, JSON document -> row records)
SECTION_TABLES: dict[str, tuple[Callable[[], tuple[str, ...]],
                                Callable[[dict[str, Any]], list[dict[str, Any]]]]] = {
    "interfaces": (_interface_columns, _interface_records),
    "statistics": (lambda: STATISTICS_COLUMNS, _statistics_records),
    "routes": (lambda: ROUTE_COLUMNS, _routes_records),
}

# --changes of -e and -s: one row per counter (views' ``counters``), the first display too.
COUNTER_COLUMNS = ("change", "view", "name", "value", "previous", "delta", "rate")
# --changes of -r: one row per path of each route added, removed or changed (as it is now).
ROUTE_CHANGE_COLUMNS = ("change", *ROUTE_COLUMNS)
