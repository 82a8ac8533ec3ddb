"""What changed between two passes of interval mode: pure diffs of snapshots, no I/O.

Connections are keyed by the kernel's socket cookie, which a socket keeps through close() and
TIME_WAIT (the inode is lost at close()); counters are compared by name, and a counter that went
backwards is a reset, never a negative delta; routes by everything a -r display shows of them.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from itertools import chain, count

from pynetstat.model.sockets import InetSocket, SocketBatch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.passes import Measure
    from pynetstat.model.sockets import Owner

    Route = dict[str, Any]  # a route as views.routes' route_json gives it

# change kind -> mark; connections: added, removed, state; counters: moved, reset, added, removed
MARKS = {"added": "+", "removed": "-", "state": "~", "moved": "~", "reset": "!", "changed": "~"}


def socket_keys(batch: SocketBatch) -> Sequence[object]:
    """The identity of each socket of a batch: its cookie (sock_diag), which survives close() and
    TIME_WAIT; from /proc, which has no cookie, ``InetSocket.identity`` (inode, else the tuple)."""
    cookies = batch.cookie
    if cookies and cookies[0] is not None:
        return cookies
    return tuple(sock.identity for sock in batch.sockets())


class Snapshot:
    """One pass's sockets: the batches themselves, and ``states``, socket key -> kernel state."""

    __slots__ = ("batches", "keys", "states", "starts", "_where")

    def __init__(self, batches: list[SocketBatch]):
        self.batches = batches
        self.keys = [socket_keys(batch) for batch in batches]
        self.states: dict[object, int] = {}
        self.starts: list[int] = []  # position of each batch's first socket
        at = 0
        for batch, keys in zip(batches, self.keys):
            self.states.update(zip(keys, batch.state))
            self.starts.append(at)
            at += len(keys)
        self._where: dict[object, int] | None = None

    def position(self, key: object) -> int:
        if self._where is None:
            self._where = dict(zip(chain.from_iterable(self.keys), count()))
        return self._where[key]

    def change(self, kind: str, position: int, previous_state: int | None = None
               ) -> ConnectionChange:
        """The change ``kind`` of the row at ``position``, with its namespace (the batch's, with
        --netns and --all-netns), its extensions (--info, ...) and interval mode's measures (a
        ``"removed"`` row's are its last)."""
        b = bisect_right(self.starts, position) - 1
        batch, i = self.batches[b], position - self.starts[b]
        owners = batch.owners[i] if batch.owners is not None else ()
        ext = batch.extensions[i] if batch.extensions is not None else None
        measures = batch.measures
        measure = None if measures is None else measures.row(i, closed=kind == "removed")
        peer = None  # the other end on this host (the peer join), as the pass found it
        if batch.SHAPE == "inet" and batch.peer is not None and batch.peer[i]:
            peer = PeerEnd(batch.peer[i],
                           None if batch.peer_accepted is None else batch.peer_accepted[i],
                           None if batch.peer_owners is None else batch.peer_owners[i])
        return ConnectionChange(kind, batch.socket_at(i), owners, batch.netns, previous_state,
                                ext, measure, peer)


class PeerEnd:
    """The other end of a TCP or UDP connection on this host, as the peer join found it
    (model/peers.py): its ``inode``, ``accepted`` (True: this end was accepted; False: it
    connected; None: cannot tell) and its ``owners`` (None: owners not looked up)."""

    __slots__ = ("inode", "accepted", "owners")

    def __init__(self, inode: int, accepted: bool | None, owners: tuple[Owner, ...] | None):
        self.inode, self.accepted, self.owners = inode, accepted, owners


class ConnectionChange:
    """A socket that appeared (``"added"``), closed (``"removed"``) or changed state (``"state"``,
    with the state it had before); ``netns``: its namespace (--netns, --all-netns), else None;
    ``peer``: its other end on this host (``PeerEnd``), when the pass joined them."""

    __slots__ = ("kind", "sock", "owners", "netns", "previous_state", "ext", "measure", "peer")

    def __init__(self, kind: str, sock: InetSocket, owners: tuple[Owner, ...],
                 netns: NetNamespace | None = None, previous_state: int | None = None,
                 ext: Any = None, measure: Measure | None = None, peer: PeerEnd | None = None):
        self.kind = kind
        self.sock = sock
        self.owners = owners
        self.netns = netns
        self.previous_state = previous_state
        self.ext = ext  # the row's linux.diagext.Extensions (-d, --info, ...), or None
        self.measure = measure  # interval mode's (model/passes.py), or None
        self.peer = peer

    def __repr__(self) -> str:
        return f"ConnectionChange({self.kind!r}, {self.sock!r})"


def connection_changes(before: Snapshot, after: Snapshot) -> list[ConnectionChange]:
    """What changed between two passes: closed sockets first (in the earlier pass's order), then
    new and changed ones (in the later pass's order)."""
    old, new = before.states, after.states
    if old == new:
        return []
    get = old.get
    moved = [key for key, state in new.items() if get(key) != state]
    gone = old.keys() - new.keys()
    out = [before.change("removed", p) for p in sorted(map(before.position, gone))]
    for position, key in sorted((after.position(key), key) for key in moved):
        state = old.get(key)
        out.append(after.change("added" if state is None else "state", position, state))
    return out


class NamespaceChange:
    """--all-netns: a network namespace that appeared (``"added"``) or went away (``"removed"``)
    between two passes."""

    __slots__ = ("kind", "netns")

    def __init__(self, kind: str, netns: NetNamespace):
        self.kind = kind
        self.netns = netns

    def __repr__(self) -> str:
        return f"NamespaceChange({self.kind!r}, {self.netns.inode})"


def namespace_changes(before: dict[int, NetNamespace], after: dict[int, NetNamespace]
                      ) -> list[NamespaceChange]:
    """Namespaces (by inode) gone since the pass before, in its order, then the new ones.

    >>> from pynetstat.model.netns import NetNamespace as N
    >>> namespace_changes({1: N(1), 2: N(2)}, {2: N(2), 3: N(3)})
    [NamespaceChange('removed', 1), NamespaceChange('added', 3)]
    """
    return ([NamespaceChange("removed", ns) for inode, ns in before.items() if inode not in after]
            + [NamespaceChange("added", ns) for inode, ns in after.items() if inode not in before])


class CounterChange:
    """A counter between two passes. ``kind``: ``"moved"`` (``delta`` > 0, ``rate`` per second),
    ``"reset"`` (it went backwards: ``value`` is reported, ``delta`` and ``rate`` are None),
    ``"added"`` or ``"removed"`` (an interface that came or went)."""

    __slots__ = ("view", "name", "kind", "value", "previous", "delta", "rate")

    def __init__(self, view: str, name: str, kind: str, value: int | None, previous: int | None,
                 delta: int | None = None, rate: float | None = None):
        self.view, self.name, self.kind = view, name, kind
        self.value, self.previous, self.delta, self.rate = value, previous, delta, rate

    def __repr__(self) -> str:
        return f"CounterChange({self.name!r}, {self.kind!r}, {self.previous!r} -> {self.value!r})"


def counter_changes(view: str, before: dict[str, int], after: dict[str, int],
                    seconds: float, *, from_zero: bool = False) -> list[CounterChange]:
    """Counters that differ between two readings ``seconds`` apart, in the later reading's order.

    A counter that went backwards was reset (an interface brought down and up, a driver reloaded)
    or wrapped (a 32-bit counter passing 4294967295). The two cannot be told apart from two
    readings, so no delta is invented: it is reported as a reset, with its new value.

    ``from_zero``: a counter that appears was 0 before (the kernel lists ICMP per-type counters
    such as ``Icmp6.InType1`` only once they count, while ``-s`` prints them as 0), so it moved
    from 0, or did not change at all.

    >>> counter_changes("s", {"a": 4294967290, "b": 5}, {"a": 12, "b": 9}, 2.0)
    [CounterChange('a', 'reset', 4294967290 -> 12), CounterChange('b', 'moved', 5 -> 9)]
    >>> counter_changes("s", {}, {"Icmp6.InType1": 4, "Icmp6.InType3": 0}, 2.0, from_zero=True)
    [CounterChange('Icmp6.InType1', 'moved', 0 -> 4)]
    """
    out = []
    for name, value in after.items():
        old = before.get(name)
        if old is None and from_zero and name not in before:
            old = 0
        if old is None:
            if name not in before:
                out.append(CounterChange(view, name, "added", value, None))
        elif value > old:
            delta = value - old
            out.append(CounterChange(view, name, "moved", value, old, delta,
                                     delta / seconds if seconds > 0 else None))
        elif value < old:
            out.append(CounterChange(view, name, "reset", value, old))
    out += [CounterChange(view, name, "removed", None, old)
            for name, old in before.items() if name not in after]
    return out


def route_keys(routes: list[Route]) -> dict[str, Route]:
    """Routes (as ``route_json`` gives them) by a key that changes when anything shown of them
    does."""
    return {json.dumps(r, sort_keys=True): r for r in routes}


# What names a route in the kernel (a route with the same identity replaces the old one); the
# rest of a route (gateways, interfaces, preferred source, ...) can change under one identity.
_ROUTE_IDENTITY = ("family", "table", "destination", "prefix_length", "metric", "type")


def route_identity(route: Route) -> tuple[object, ...]:
    return tuple(route.get(field) for field in _ROUTE_IDENTITY)


def route_changes(before: dict[str, Route], after: dict[str, Route]
                  ) -> list[tuple[str, Route, Route | None]]:
    """``[(kind, route, previous), ...]`` between two ``route_keys``: ``"removed"`` routes, then
    ``"added"`` ones, and ``"changed"`` where a route of the same identity (destination, table,
    metric, ...) differs only in what else is shown (``previous`` is the route as it was)."""
    gone = {route_identity(r): r for k, r in before.items() if k not in after}
    new = [r for k, r in after.items() if k not in before]
    changed = {route_identity(r) for r in new} & gone.keys()
    return ([("removed", r, None) for i, r in gone.items() if i not in changed]
            + [("changed", r, gone[route_identity(r)]) if route_identity(r) in changed
               else ("added", r, None) for r in new])


def route_difference(previous: Route, route: Route) -> list[str]:
    """The fields that differ, ``["prefsrc: 10.0.0.1 -> 10.0.0.2"]`` (JSON values as text)."""
    out = []
    for field in sorted(set(previous) | set(route)):
        old, now = previous.get(field), route.get(field)
        if old != now:
            out.append(f"{field}: {json.dumps(old, sort_keys=True)} -> "
                       f"{json.dumps(now, sort_keys=True)}")
    return out
