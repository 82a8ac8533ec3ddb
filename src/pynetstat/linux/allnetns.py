"""``--all-netns``: the connection table of every network namespace on the host, in one listing.

Namespaces come from one discovery (``linux.netns.discover``: one /proc walk, the mount table);
each is reached before any row is printed (``linux.nsenter.reach``: a netlink socket made inside
it, else /proc/PID/net of a process in it), so a refusal is known up front and a namespace whose
last process exits meanwhile still answers through our socket. Owners come from one walk of the
host's /proc/*/fd for all namespaces together: a socket's inode is unique on the host (sockfs is
one file system), so the walk's inode -> PID map serves every namespace, with host PIDs.
"""

from __future__ import annotations

from pynetstat.linux.connections import ConnectionSet
from pynetstat.linux.netns import discover
from pynetstat.linux.nsenter import Access, Unreachable, net_reader, proc_net_root, reach
from pynetstat.linux.procfs import ProcFS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from pynetstat.env import Environment
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.linux.owners import OwnerMap
    from pynetstat.model.netns import Discovery, NetNamespace
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.options import Options


class NamespacePart:
    """One namespace of the listing: how it was read (``source``: "netlink" or "proc", ``why``
    netlink could not be had), the environment and netlink source that read it (``env``,
    ``netlink``), and its ``ConnectionSet`` (``None`` for -e, -s, -r)."""

    __slots__ = ("namespace", "source", "why", "env", "netlink", "conns")

    def __init__(self, namespace: NetNamespace, source: str, why: str | None,
                 env: Environment, netlink: NetlinkSource,
                 conns: ConnectionSet | None = None):
        self.namespace = namespace
        self.source = source
        self.why = why
        self.env = env
        self.netlink = netlink
        self.conns = conns


class AllNamespaces:
    """Every namespace's batches, the host's first, each tagged with its namespace; and what
    could not be read: ``unread`` is ``[(namespace, why)]``, ``discovery`` says what the /proc
    walk could not see. Iterate once."""

    def __init__(self, opts: Options, env: Environment, found: Discovery,
                 parts: list[NamespacePart], unread: list[tuple[NetNamespace, str]],
                 owners: OwnerMap | None):
        self.opts = opts
        self.env = env
        self.discovery = found
        self.parts = parts
        self.unread = unread
        self.owners = owners

    def __iter__(self) -> Iterator[SocketBatch]:
        for part in self.parts:
            if part.conns is not None:
                yield from part.conns

    def close(self) -> None:
        for part in self.parts:
            part.netlink.close()

    def keep(self, held: dict[int, NetlinkSource]) -> dict[int, NetlinkSource]:
        """Between two readings (interval passes, live refreshes): the netlink sources of the
        namespaces read through netlink, by inode, to pass to the next ``collect`` as ``held``;
        those of ``held`` not kept (their namespace gone or read from /proc now) are closed."""
        kept = {p.namespace.inode: p.netlink for p in self.parts if p.source == "netlink"}
        for inode, netlink in held.items():
            if kept.get(inode) is not netlink:
                netlink.close()
        return kept

    def netlinks(self) -> dict[int, NetlinkSource]:
        """Every namespace's netlink source (or its /proc stand-in), by inode: the interface
        names of its rows (``EveryNamespaceInterfaceNames.update``)."""
        return {p.namespace.inode: p.netlink for p in self.parts}


def _by_owner(opts: Options) -> bool:
    """An owner filter (--pid, --process, ...) walks only its processes, per namespace."""
    if opts.filter is None:
        return False
    from pynetstat.model.filters import Owners

    return any(isinstance(term, Owners) for term in getattr(opts.filter, "terms", ()))


def reach_all(env: Environment, held: dict[int, NetlinkSource] | None = None
              ) -> tuple[Discovery, list[NamespacePart], list[tuple[NetNamespace, str]]]:
    """Every namespace found, each reached now: the parts that can be read, with an
    environment whose net/ files are the namespace's, and ``(namespace, why)`` of the rest.

    ``held``: namespace inode -> a netlink source made inside it at an earlier pass (interval
    mode), used again instead of entering the namespace anew. Its socket holds the namespace,
    so the inode cannot have passed to another namespace meanwhile (an inode is reused only
    once its namespace is freed)."""
    found = discover(ProcFS(env.proc_root))
    parts, unread = [], []
    for ns in found.namespaces:
        kept = None if held is None else held.get(ns.inode)
        access = Access(ns, "netlink") if kept is not None else reach(ns, env.proc_root)
        if access.source is None:
            unread.append((ns, access.why or "it cannot be read"))
            continue
        if access.source == "proc":
            netlink: NetlinkSource = Unreachable(access.why or "")
            ns_env = env.replaced(net_root=access.proc_root, netns=ns)
        else:
            if kept is None:
                assert access.netlink is not None  # source "netlink" comes with its socket
                kept = access.netlink
            netlink = kept
            root = proc_net_root(ns, env.proc_root)
            reader = None
            if root is None and ns.mounts:
                reader = net_reader(ns, ns.mounts[0], env.proc_root)
            ns_env = env.replaced(net_root=root, net_reader=reader, netns=ns)
        ns_env.netlink_factory = lambda netlink=netlink: netlink
        parts.append(NamespacePart(ns, access.source, access.why, ns_env, netlink))
    return found, parts, unread


def collect(opts: Options, env: Environment, held: dict[int, NetlinkSource] | None = None,
            kept: SharedOwners | None = None) -> AllNamespaces:
    """Discover, reach every namespace, walk the owners once; nothing is dumped until iterated.
    Without the connection table (-e, -s, -r), the parts have no ``conns``. ``held``: the
    netlink sources of an earlier pass, by namespace inode (``reach_all``). ``kept``: interval
    mode's owners kept from pass to pass; then every namespace is dumped now, and its owners
    come from one lookup over the sockets of all (``SharedOwners``)."""
    found, parts, unread = reach_all(env, held)
    owners = None
    table = not (opts.ethernet or opts.statistics or opts.routes)
    by_owner = _by_owner(opts)
    if kept is not None and not (table and opts.wants_owners and not by_owner):
        kept = None
    if table and opts.wants_owners and not by_owner and kept is None:
        from pynetstat.linux.owners import scan_owners

        owners = scan_owners(env.proc_root)
    if table:
        for part in parts:
            reuse = None if kept is None else kept.of(part.namespace.inode)
            part.conns = ConnectionSet(opts, part.env, part.netlink, reuse, owners)
    if kept is not None:
        present = {part.namespace.inode for part in parts}
        kept.open_unowned = {i: s for i, s in kept.open_unowned.items() if i in present}
        kept.look_up([part.conns.prefetch() for part in parts if part.conns is not None])
    return AllNamespaces(opts, env, found, parts, unread, owners)


class SharedOwners:
    """Interval mode's ``OwnerCache`` serving every namespace of a pass: the sockets of all
    namespaces are looked up together, in one call, as a socket's inode is unique on the host
    (the cache forgets what a lookup does not ask for, so one lookup per namespace would undo
    another's). ``of(inode)`` is what a namespace's ``ConnectionSet`` takes as its ``reuse``."""

    def __init__(self, proc_root: str):
        from pynetstat.linux.owner_cache import OwnerCache

        self.cache = OwnerCache(proc_root)
        self.owners: OwnerMap | None = None  # this pass's
        # namespace inode -> the cache's ``open_unowned`` for its sockets (linux/recheck.py)
        self.open_unowned: dict[int, set[int]] = {}

    def look_up(self, dumps: list[list[SocketBatch]]) -> None:
        """The owners of every socket dumped this pass, and of each UNIX socket's peer."""
        # (the inode columns are the decoder's tuples: SocketBatch types them as sequences)
        columns: list[Any] = [batch.inode for batches in dumps for batch in batches]
        # and of the other ends: a UNIX socket's peer, the peer join's of a TCP or UDP one
        columns += [tuple(filter(None, peers)) for batches in dumps for batch in batches
                    for peers in (getattr(batch, "peer", None),) if peers is not None]
        self.owners = self.cache.lookup(columns)

    def of(self, inode: int) -> _NamespaceReuse:
        return _NamespaceReuse(self, inode)


class _NamespaceReuse:
    """One namespace's view of ``SharedOwners``: what ``ConnectionSet`` asks of an
    ``OwnerCache`` (``lookup``, ``records``, ``process_cache``, ``open_unowned``)."""

    def __init__(self, shared: SharedOwners, inode: int):
        self.shared = shared
        self.inode = inode
        self.records = shared.cache.records
        self.process_cache = shared.cache.process_cache

    def lookup(self, inode_columns: object) -> OwnerMap:
        """This pass's map, made by ``SharedOwners.look_up`` over every namespace."""
        assert self.shared.owners is not None  # looked up before any namespace is iterated
        return self.shared.owners

    @property
    def open_unowned(self) -> set[int]:
        return self.shared.open_unowned.get(self.inode, set())

    @open_unowned.setter
    def open_unowned(self, inodes: set[int]) -> None:
        self.shared.open_unowned[self.inode] = inodes
