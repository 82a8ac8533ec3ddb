"""The peer join of TCP, MPTCP and UDP: the socket at the other end of a connection on this host.

A connection A (local L, remote R) has its other end on this host, in the same network namespace,
when another socket of the same dump has local R and remote L: both ends of a loopback
conversation, or of one to any address of this host, are in one sock_diag dump, so the exact
4-tuple reversed finds it and no address list is needed. TCP's two families are one port space:
an IPv4 connection seen from a tcp6 socket has IPv4-mapped ends (``::ffff:127.0.0.1``), and its
other end may be a plain tcp socket; both are keyed by the IPv4 text. A listener is never a peer
(its foreign end is the wildcard, port 0): the accepted socket is.

The join is one pass over the dump's columns building a dict per protocol ``(local, local port,
remote, remote port) -> position in the dump`` and one lookup per socket, ``map`` over the
columns (C, not a Python call per socket): docs/json.md ("The other end of a TCP or UDP
connection") has the cost at 200,000 sockets. Sockets with inode 0 (TIME_WAIT, request sockets)
are not entered: no process holds them. A socket with a wildcard address is no one's other end,
except a UDP server's: a connected UDP client whose other end is no connected socket is joined
to the one unconnected UDP socket bound to its remote end, or to that port on the wildcard
(``_to_servers``).

>>> from pynetstat.model.sockets import SocketBatch, InetSocket
>>> def tcp(family, local, lport, remote, rport, inode, state=1):
...     return InetSocket(proto="tcp", family=family, state=state, inode=inode, uid=0, cookie=inode,
...                       recv_q=0, send_q=0, local_address=local, local_port=lport,
...                       remote_address=remote, remote_port=rport, scope=0)
>>> v4 = SocketBatch.from_sockets("tcp", 4, [tcp(4, "127.0.0.1", 5432, "0.0.0.0", 0, 7, 10),
...                                          tcp(4, "127.0.0.1", 40000, "127.0.0.1", 5432, 8)])
>>> v6 = SocketBatch.from_sockets("tcp", 6, [tcp(6, "::ffff:127.0.0.1", 5432,
...                                                 "::ffff:127.0.0.1", 40000, 9)])
>>> found = join_peers([v4, v6])
>>> v4.peer, v4.peer_accepted, v6.peer, v6.peer_accepted
((0, 9), (None, False), (8,), (True,))
"""

from __future__ import annotations

from array import array
from itertools import chain, compress, repeat
from operator import add, eq, is_not, lshift, or_, truth

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import TypeVar

    from pynetstat.model.sockets import SocketBatch

    T = TypeVar("T")


# The protocols whose sockets are joined (both families of each: one port space), and the port
# space of each: an MPTCP connection's ends are TCP's (its subflows are TCP connections), so an
# MPTCP socket whose peer fell back to plain TCP is joined to that TCP socket.
SPACES = {"tcp": "tcp", "mptcp": "tcp", "udp": "udp"}
PEER_PROTOCOLS = frozenset(SPACES)
_LISTEN = 10  # TCP_LISTEN (include/net/tcp_states.h)


class _Unmapped(dict[str, str]):
    """``address -> the same address, an IPv4-mapped IPv6 one as IPv4``, made once per distinct
    address (a dump of 200,000 loopback sockets has a few dozen)::

        "::ffff:127.0.0.1" -> "127.0.0.1", "::1" -> "::1", "127.0.0.1" -> "127.0.0.1"
    """

    def __missing__(self, address: str) -> str:
        plain = self[address] = (address[7:] if address.startswith("::ffff:") and "." in address
                                 else address)
        return plain


class _Numbered(dict[str, int]):
    """``address -> its number << 16``: one number per distinct address, an IPv4-mapped one the
    same as its IPv4 form, shifted to leave room for a port (``| port``: one end as an int)."""

    def __init__(self) -> None:
        super().__init__()
        self.plain = _Unmapped()
        self.numbers: dict[str, int] = {}

    def __missing__(self, address: str) -> int:
        plain = self.plain[address]
        number = self.numbers.get(plain)
        if number is None:
            number = self.numbers[plain] = (len(self.numbers) + 1) << 16
        self[address] = number
        return number


# An end is ``number | port`` (``number`` a multiple of 2**16, ``_Numbered``); a key is ``local
# end << shift | remote end``, one int per 4-tuple rather than a tuple: a lookup that finds its
# key compares one object, not a tuple and its four items. The shift is 30 unless the dump's
# sockets are bound to more than 2**14 distinct addresses: a key under 2**60 is a two-digit int,
# 32 bytes like the positions it maps to (a three-digit one, 40 bytes, lives in other pages).
_SHIFT = 30


class _Remote(dict[str, "int | None"]):
    """``remote address -> the number of the same address`` when a socket of the dump is bound
    to it (and it is not the wildcard), else None: only then can the other end be in the dump.
    Made once per distinct address, an IPv4-mapped one as its IPv4 form; a server's remote
    clients are never numbered."""

    def __init__(self, numbered: _Numbered, here: set[int]):
        super().__init__()
        self.numbered = numbered
        self.here = here

    def __missing__(self, address: str) -> int | None:
        number = self.numbered.numbers.get(self.numbered.plain[address])
        found = self[address] = number if number in self.here else None
        return found


def join_peers(batches: Sequence[SocketBatch], more: Iterable[SocketBatch] = (),
               directions: bool = True) -> Peers:
    """Fill each TCP, MPTCP and UDP batch's ``peer`` (the inode of the socket at the other end in these
    batches or in ``more``, sockets a filter left out of the listing; 0 when none is) and, with
    ``directions``, ``peer_accepted`` (True: this end was accepted, its local port is one a
    listener of the listing holds; False: the other end's is; None: unknown, a UDP socket or no
    listener listed). ``batches`` are one namespace's.

    Returns where each other end is (``Peers``), so that its owners are the owners column of
    its own row: a list indexed by position, not a dict looked up by inode again.

    Only a socket whose remote address is one the dump's sockets are bound to can have its
    other end there: a server's remote clients cost a dict lookup each (``_Remote``). When
    every socket's can (100,000 loopback pairs), the time is the dict's: 200,000 inserts and
    as many lookups, each a cache miss (the two ends of a connection are far apart in the
    dump); the keys are made by ``map`` in C, a batch at a time, with no protocol in them (one
    dict per protocol). Of a batch only the reversed keys are kept until the lookups: what the
    join holds besides the dump is the dict and those keys."""
    joined = [b for b in batches if b.SHAPE == "inet" and b.proto in PEER_PROTOCOLS]
    order: dict[int, SocketBatch] = {}  # id(batch) ->, ``more`` first: positions count in this order
    for batch in chain(more, joined):
        if batch.SHAPE == "inet" and batch.proto in PEER_PROTOCOLS:
            order.setdefault(id(batch), batch)
    numbered = _Numbered()
    at = numbered.__getitem__
    bound = [list(map(at, batch.local_address)) for batch in order.values()]
    here = set(chain.from_iterable(bound))  # the numbers of the addresses sockets are bound to
    here.difference_update(map(at, ("0.0.0.0", "::")))  # a wildcard remote: no connection
    remote_of = _Remote(numbered, here).__getitem__
    shift = max(_SHIFT, len(numbered.numbers).bit_length() + 16)
    indexes: dict[str, dict[int, int]] = {space: {} for space in SPACES.values()}
    listed = set(map(id, joined))
    wanted: dict[int, tuple[list[int] | None, list[int]]] = {}  # id -> rows kept, reversed keys
    servers = _udp_servers(order.values(), bound)
    base = 0
    for batch, local in zip(order.values(), bound):
        remote = list(map(remote_of, batch.remote_address))
        lport: Iterable[int] = batch.local_port
        rport: Iterable[int] = batch.remote_port
        inodes: Sequence[int] = batch.inode
        rows: list[int] | None = None  # the positions in the batch of the sockets kept; None: all
        at_: Iterable[int] = range(base, base + len(inodes))
        if None in remote:  # a server's remote clients: most rows leave here
            mask = list(map(is_not, remote, repeat(None)))
            rows = list(compress(range(len(mask)), mask))
            local, remote = list(compress(local, mask)), list(compress(remote, mask))
            lport, rport = compress(lport, mask), compress(rport, mask)
            inodes = list(map(inodes.__getitem__, rows))
            at_ = map(add, rows, repeat(base))
        near = list(map(or_, local, lport))
        far = list(map(or_, remote, rport))
        pairs = zip(map(or_, map(lshift, near, repeat(shift)), far), at_)
        # inode 0 (TIME_WAIT, request sockets): no process holds it, it is no one's other end
        indexes[SPACES[batch.proto]].update(compress(pairs, inodes) if 0 in inodes else pairs)
        if id(batch) in listed:
            wanted[id(batch)] = rows, list(map(or_, map(lshift, far, repeat(shift)), near))
        base += len(batch)
    listening: set[int] = set()  # the ports TCP listeners of the listing hold
    if directions:
        for batch in joined:
            if batch.proto != "udp" and _LISTEN in batch.state:
                listening.update(compress(batch.local_port, map(eq, batch.state, repeat(_LISTEN))))
    result = Peers(list(order.values()))
    # the inodes by position, unboxed: a peer column gathered from it holds new ints made in
    # its own order, not references to ints spread over the whole dump (every later pass over
    # it, JSON's, CSV's, -b's, would miss the cache as the gather did)
    inode_at = array("Q", chain.from_iterable(batch.inode for batch in result.order))
    inode_at.append(0)  # position -1: no other end
    for batch in joined:
        rows, keys = wanted[id(batch)]
        # positions unboxed as they are found (the int the dict holds is read while it is in
        # the cache): the gathers by position below and in ``columns`` then read a compact
        # array in order, not 200,000 ints spread over the dict's memory
        found = map(indexes[SPACES[batch.proto]].get, keys, repeat(-1))
        if rows is None:
            where = array("q", found)
        else:
            where = array("q", (-1,)) * len(batch)
            list(map(where.__setitem__, rows, found))
        served = (_to_servers(batch, where, servers, numbered, remote_of)
                  if batch.proto == "udp" and servers and -1 in where else ())
        result.at[id(batch)] = where
        batch.peer = peers = tuple(map(inode_at.__getitem__, where))
        if batch.proto == "udp":  # "->" for a client joined to its server, else unknown
            accepted: list[bool | None] = [None] * len(peers)
            if directions:
                list(map(accepted.__setitem__, served, repeat(False)))
            batch.peer_accepted = tuple(accepted)
            continue
        if not directions or not listening:
            batch.peer_accepted = (None,) * len(peers)
            continue
        held = listening.__contains__
        batch.peer_accepted = tuple(map(_WAY.get, zip(map(truth, peers), map(held, batch.local_port),
                                                      map(held, batch.remote_port))))
    return result


def _udp_servers(batches: Iterable[SocketBatch], bound: list[list[int]]) -> dict[int, int]:
    """``local end (number | port) -> position`` of each unconnected UDP socket that a process
    holds (its remote port 0: a server's receiving socket), the wildcard addresses with their
    own numbers; an end two such sockets share (SO_REUSEPORT) is -2: it names no one socket."""
    servers: dict[int, int] = {}
    base = 0
    for batch, local in zip(batches, bound):
        if batch.proto == "udp" and 0 in batch.remote_port:
            ports, inodes = batch.local_port, batch.inode
            for i in compress(range(len(batch)), map(eq, batch.remote_port, repeat(0))):
                if inodes[i]:
                    end = local[i] | ports[i]
                    servers[end] = -2 if end in servers else base + i
        base += len(batch)
    return servers


def _to_servers(batch: SocketBatch, where: array[int], servers: dict[int, int],
                numbered: _Numbered, remote_of: Callable[[str], int | None]) -> list[int]:
    """A connected UDP socket whose other end is no connected socket (a client of a server that
    receives on an unconnected one: DNS, syslog, statsd) is joined to the unconnected socket
    bound to its remote end, or to that port on the wildcard address of its family (an IPv4 end
    also to ``::``, which a dual-stack socket receives on); ``where`` is set in place. Returns
    the rows so joined."""
    wild4, wild6 = numbered["0.0.0.0"], numbered["::"]
    joined = []
    ports, addresses = batch.remote_port, batch.remote_address
    for i in compress(range(len(where)), map(eq, where, repeat(-1))):
        port = ports[i]
        number = remote_of(addresses[i]) if port else None
        if number is None:
            continue  # not connected, or to an address no socket here is bound to
        v4 = "." in numbered.plain[addresses[i]]
        for end in (number, wild4, wild6) if v4 else (number, wild6):
            found = servers.get(end | port)
            if found is not None:
                if found >= 0:
                    where[i] = found
                    joined.append(i)
                break
    return joined


class Peers:
    """Where the other ends are: ``order``, the batches joined (``more`` first) whose sockets,
    counted in this order, are the positions; ``at``, per listed batch (by ``id``), each
    socket's other end's position, -1 for none."""

    __slots__ = ("order", "at")

    def __init__(self, order: list[SocketBatch]):
        self.order = order
        self.at: dict[int, Sequence[int]] = {}

    def columns(self, values: Iterable[Sequence[T]], none: T) -> dict[int, tuple[T, ...]]:
        """``id(batch) ->`` its other ends' values (``none`` where it has none), for each
        listed batch, from ``values``: one sequence per batch of ``order``, in that order."""
        flat = list(chain.from_iterable(values))
        flat.append(none)  # position -1
        get = flat.__getitem__
        return {key: tuple(map(get, where)) for key, where in self.at.items()}


# (has a peer, its local port is listened on, its remote port is) -> peer_accepted
_WAY = {(True, True, False): True, (True, True, True): True, (True, False, True): False}


def server_ends(ends: Iterable[tuple[str, int, str, int]]) -> list[tuple[str, int, None, int]]:
    """The ends ``(local, port, None, 0)`` of the unconnected UDP sockets that the connected
    ones whose other ends are ``ends`` may send to (``_to_servers``): bound to that address, or
    to that port on the wildcard (an IPv4 one also on ``::``, dual-stack).

    >>> server_ends([("127.0.0.1", 53, "127.0.0.1", 40000), ("::1", 514, "::1", 40001)])
    [('127.0.0.1', 53, None, 0), ('0.0.0.0', 53, None, 0), ('::', 53, None, 0), ('::1', 514, None, 0), ('::', 514, None, 0)]
    """
    plain = _Unmapped()
    out: dict[tuple[str, int, None, int], None] = {}
    for local, port, _remote, _rport in ends:
        local = plain[local]
        wild = ("0.0.0.0", "::") if "." in local else ("::",)
        out.update(dict.fromkeys((address, port, None, 0) for address in (local, *wild)))
    return list(out)


def ends_in_family(ends: Iterable[tuple[str, int, str | None, int]],
                   family: int) -> list[tuple[str, int, str | None, int]]:
    """Ends ``(local, port, remote, port)`` as a socket of ``family`` would show them: an IPv4
    end IPv4-mapped for an IPv6 socket, an IPv4-mapped one plain for an IPv4 socket; an IPv6
    end has no IPv4 form (left out). A remote None (any) stays None.

    >>> ends_in_family([("127.0.0.1", 1, "::ffff:127.0.0.1", 2), ("::1", 3, "::1", 4)], 4)
    [('127.0.0.1', 1, '127.0.0.1', 2)]
    >>> ends_in_family([("127.0.0.1", 1, "::ffff:127.0.0.1", 2), ("::1", 3, "::1", 4)], 6)
    [('::ffff:127.0.0.1', 1, '::ffff:127.0.0.1', 2), ('::1', 3, '::1', 4)]
    >>> ends_in_family([("0.0.0.0", 53, None, 0), ("::", 53, None, 0)], 4)
    [('0.0.0.0', 53, None, 0)]
    """
    plain = _Unmapped()
    out: list[tuple[str, int, str | None, int]] = []
    for local, lport, remote, rport in ends:
        local = plain[local]
        remote = None if remote is None else plain[remote]
        v4 = "." in local and (remote is None or "." in remote)
        if family == 6:
            out.append((f"::ffff:{local}" if v4 else local, lport,
                        f"::ffff:{remote}" if v4 and remote is not None else remote, rport))
        elif v4:
            out.append((local, lport, remote, rport))
    return out
