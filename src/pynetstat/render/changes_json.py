"""What ``--changes`` prints after the first display, as JSON Lines: one object per change, with
the envelope of every interval record (``schema_version``, ``type``, ``timestamp``, ``pass``,
``host``)
and the change's kind and mark. Fields: docs/interval.md. The text form is render/changes_text.py.
"""

from __future__ import annotations

import json

from pynetstat.model import SCHEMA_VERSION
from pynetstat.model.changes import MARKS
from pynetstat.model.netns_labels import netns_json
from pynetstat.model.sockets import spec_state_name
from pynetstat.render.jsonout import connection_record
from pynetstat.textsafe import json_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

    from pynetstat.model.changes import ConnectionChange, CounterChange, NamespaceChange, Route
    from pynetstat.model.netns import NetNamespace
    from pynetstat.options import Options
    from pynetstat.render.jsonout import Peer
    from pynetstat.resolve import Names


def change_extensions(change: ConnectionChange, ext_json: Callable[..., dict[str, Any]] | None
                      ) -> dict[str, Any] | None:
    """The changed row's extension objects (``extension_encoder``), None when none is asked."""
    if ext_json is None or change.ext is None:
        return None
    sock = change.sock
    ipv4 = sock.family == 4 or sock.remote_address.startswith("::ffff:")
    return ext_json(change.ext, ipv4, change.measure)


def change_peer(change: ConnectionChange, with_owners: bool) -> Peer | None:
    """The changed row's ``peer`` for ``connection_record`` (``(inode, owners)`` of its other end
    on this host), as a display's rows have it (``jsonout.batch_peers``): None when the join
    found none, or owners are not shown."""
    peer = change.peer
    if not with_owners or peer is None or peer.owners is None:
        return None
    return peer.inode, peer.owners


def _head(kind: str, stamp: float, number: int, host: str, change: str) -> dict[str, object]:
    return {"schema_version": SCHEMA_VERSION, "type": kind, "timestamp": stamp, "pass": number,
            "host": host, "change": change, "mark": MARKS[change]}


class ConnectionChangeJson:
    """Connections that appeared, closed or changed state: one line each."""

    def __init__(self, out: TextIO, opts: Options, names: Names | None,
                 ifname: Callable[[int], str], host: str):
        self.out = out
        self.host = host
        self.with_owners = opts.wants_owners
        self.names = names
        self.ifname = ifname
        # --all-netns: a scope is an ifindex of the row's namespace (session.InterfaceNames.within)
        self.within = getattr(ifname, "within", None)
        self.owner_json = None
        if opts.executables:
            from pynetstat.render.owners import owner_json

            self.owner_json = owner_json
        self.ext_json = None  # -d, -i, --info, ...: the row's objects, with interval measures
        if opts.extension_groups:
            from pynetstat.render.extensions_json import extension_encoder

            self.ext_json = extension_encoder(opts.extension_groups)

    def begin(self) -> None:
        """JSON Lines need no heading."""

    def write(self, changes: list[ConnectionChange], stamp: float, number: int) -> None:
        out = []
        # id(namespace) -> its netns object, for this pass's records only (a pass's namespace
        # records live as long as it: an id is not reused meanwhile)
        spaces: dict[int, dict[str, object]] = {}
        for change in changes:
            doc = _head("connection", stamp, number, self.host, change.kind)
            doc["previous_state"] = (None if change.previous_state is None
                                     else spec_state_name(change.previous_state))
            ns = change.netns
            ifname = self.ifname if self.within is None else self.within(ns)
            doc["connection"] = record = connection_record(
                change.sock, change.owners if self.with_owners else None, self.names,
                ifname, self.owner_json, change_extensions(change, self.ext_json),
                change_peer(change, self.with_owners))
            if ns is not None:  # --netns, --all-netns: as every row of a display (docs/json.md)
                netns = spaces.get(id(ns))
                if netns is None:
                    netns = spaces[id(ns)] = netns_json(ns)
                record["netns"] = netns
            out.append(json.dumps(doc) + "\n")
        self.out.write("".join(out))


def namespace_records(changes: list[NamespaceChange], stamp: float, number: int, host: str
                      ) -> str:
    """--all-netns: a namespace that appeared or went away between two passes, one JSON line
    each: the envelope, ``change`` (``"added"``, ``"removed"``), ``mark`` and ``netns``."""
    return "".join(json.dumps({**_head("netns", stamp, number, host, change.kind),
                               "netns": netns_json(change.netns)}) + "\n"
                   for change in changes)


class CounterChangeJson:
    """Counters that moved (-s, -e) and routes added or removed (-r): one line each."""

    def __init__(self, out: TextIO, host: str):
        self.out = out
        self.host = host

    def begin(self) -> None:
        """JSON Lines need no heading."""

    def write(self, counters: list[CounterChange], routes: list[tuple[str, Route, Route | None]],
              stamp: float, number: int, netns: NetNamespace | None = None) -> None:
        """``netns`` (--all-netns): each record ends with the namespace's ``netns`` object."""
        tail = {} if netns is None else {"netns": netns_json(netns)}
        docs = [{**_head("counter", stamp, number, self.host, c.kind), "view": c.view, "name": json_text(c.name),
                 "value": c.value, "previous": c.previous, "delta": c.delta,
                 "rate": None if c.rate is None else round(c.rate, 3), **tail} for c in counters]
        docs += [{**_head("route", stamp, number, self.host, kind), "route": route,
                  "previous": previous, **tail} for kind, route, previous in routes]
        self.out.write("".join(json.dumps(doc) + "\n" for doc in docs))
