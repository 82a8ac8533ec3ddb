"""The connection table's collector: which sockets, from where, with which owners.

``collect(opts, env)`` returns a ``ConnectionSet``: an iterator of ``SocketBatch`` (columns of
sockets, with an ``owners`` column when owners were asked for: a tuple of ``Owner`` per socket,
lowest PID first, empty when none is visible) and, once iterated, the account of what could not be
seen. Batches stream in kernel order, so a plain listing of 200,000 sockets never holds them all.
"""

from __future__ import annotations

from pynetstat.kinds import selection
from pynetstat.linux.procfs import procfs_of
from pynetstat.linux.sockets import SourceLog, iter_batches
from pynetstat.model.sockets import TCP_BOUND_INACTIVE, Owner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from pynetstat.env import Environment
    from pynetstat.kinds import SocketKind
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.linux.owner_cache import OwnerReuse
    from pynetstat.linux.owners import OwnerMap
    from pynetstat.linux.process import ProcessCache
    from pynetstat.linux.recheck import Unowned
    from pynetstat.model.peers import Peers
    from pynetstat.model.process import ProcessInfo
    from pynetstat.model.sockets import InetSocket, SocketBatch
    from pynetstat.options import Options
    from pynetstat.select import Filter, Selection


class _SoleOwner(dict):  # type: ignore[type-arg]  # dict[int | None, tuple[Owner, ...]] fails on 3.9
    """``pid -> (Owner,)``, made once per process so that 100,000 sockets of one process share
    one tuple; ``None`` (no visible owner) maps to ``()``."""

    def __init__(self, make_owner: Callable[[int], Owner]) -> None:
        super().__init__()
        self[None] = ()
        self.make_owner = make_owner

    def __missing__(self, pid: int) -> tuple[Owner]:
        owners = self[pid] = (self.make_owner(pid),)
        return owners


class ConnectionSet:
    """Rows plus the account of what was not seen. Iterate once."""

    def __init__(self, opts: Options, env: Environment, netlink: NetlinkSource | None,
                 reuse: OwnerReuse | None = None, owners: OwnerMap | None = None) -> None:
        self.opts = opts
        # --netns, --all-netns: the model.netns.NetNamespace every batch is tagged with
        self.netns = env.netns
        self.proc = procfs_of(env)
        self.netlink = netlink
        self.log = SourceLog()
        self.owners: OwnerMap | None = None
        # reuse: interval mode's OwnerCache (linux/owner_cache.py). It is asked for owners once
        # the pass's sockets are known, and keeps owner records and process details between passes.
        self.reuse = reuse
        # A filter (select.py), bound to this pass's interfaces; its owner conditions walk only
        # the fd tables they need (linux/owner_filter.py), with or without -o.
        self.selection = None if opts.filter is None else bind_filter(opts.filter, netlink, self.log)
        self.owner_select = None
        if self.selection is not None and self.selection.owner_terms:
            from pynetstat.linux.owner_filter import OwnerSelect

            self.owner_select = OwnerSelect(env.proc_root, self.selection.owner_terms)
            if opts.wants_owners:
                self.owners = self.owner_select.owners
        elif opts.wants_owners and reuse is None:
            from pynetstat.linux.owners import scan_owners

            # owners: one walk shared by the namespaces of --all-netns (socket inodes are
            # unique across namespaces: sockfs is one file system)
            self.owners = owners if owners is not None else scan_owners(env.proc_root)
        # the owners of the other ends, when the rows' own map does not hold them (_left_out)
        self.peer_map: OwnerMap | None = None  # every process's, under an owner filter
        self.peers: Peers | None = None  # where the peer join found the other ends
        self.unattributed = 0  # sockets with an inode that no visible process holds
        # owners carry their names (comm) for JSON, CSV and -b, and for a UNIX socket's peer cell
        self.named = opts.owner_names or (
            opts.wants_owners and any(kind.shape == "unix" for kind, _ in self._listed()))
        # of those, the ones the kernel no longer had when asked again after the pass (recheck.py)
        self.closed = 0
        self._owners: dict[int, Owner] = {} if reuse is None else reuse.records
        # read_process's own cache, keyed by (pid, start time)
        self._process_cache: ProcessCache = {} if reuse is None else reuse.process_cache
        self._dumped: list[SocketBatch] | None = None  # prefetch's batches

    def prefetch(self) -> list[SocketBatch]:
        """Dump now, before any owner is joined (--all-netns with an interval: one owner lookup
        for the sockets of every namespace, ``linux.allnetns``); iterating gives these."""
        self._dumped = list(self._dump())
        return self._dumped

    def __iter__(self) -> Iterator[SocketBatch]:
        """Batches of sockets, with ``owners`` filled in when owners were asked for, and
        ``netns`` with --netns and --all-netns."""
        if self.netns is None:
            return self._batches()
        return map(self._tag, self._batches())

    def _tag(self, batch: SocketBatch) -> SocketBatch:
        batch.netns = self.netns
        return batch

    def _dump(self) -> Iterable[SocketBatch]:
        """The batches of the kinds listed, as the kernel (or /proc) gives them; with an owner
        filter, only the sockets of its processes."""
        ends = None if self.owner_select is None else self.owner_select.ends
        ext = None
        if self.opts.extension_groups:
            # Only a view that shows extension fields asks the kernel for them (a plain -an's
            # request and decoding stay as they are).
            from pynetstat.linux.diagext import request_bits

            ext = request_bits(self.opts.extension_groups)
        # joint: TCP's two families in one dump, one walk of the kernel's TCP table instead of
        # two (linux/sockets.JOINT); what --all-netns pays per namespace (docs/netns.md, Speed)
        batches: Iterable[SocketBatch]
        batches = iter_batches(self._listed(), self.netlink, self.proc, self.log, self.selection,
                               ends, ext, joint=True, table_only=self.opts.table_only)
        if self.owner_select is not None:
            batches = filter(None, map(self.owner_select.select, batches))
        if self.opts.shows_peers:
            batches = self._joined(batches)
        return batches

    def _batches(self) -> Iterator[SocketBatch]:
        batches: Iterable[SocketBatch] = (self._dump() if self._dumped is None
                                          else self._dumped)
        if self.owner_select is None and self.reuse is not None and self.opts.wants_owners:
            batches = list(batches)
            # a UNIX socket's peer is looked up too (the peer join below), and a TCP or UDP one's
            self.owners = self.reuse.lookup([batch.inode for batch in batches]
                                            + [tuple(filter(None, peers)) for peers in
                                               map(_peer_column, batches) if peers is not None])
        if self.owners is None:
            yield from batches
            return
        alone = _SoleOwner(self._owner)  # pid -> (Owner,), one shared tuple per process
        unowned: dict[tuple[str, int], list[Unowned]] = {}
        owned: Iterable[SocketBatch] = (self._own(batch, alone, unowned) for batch in batches)
        joined = self.peers
        if joined is not None:
            # the other ends' owners are the owners columns of their own rows: every batch's
            # owners first (the dump is held already), then a list indexed by position
            owned = list(owned)
            listed = {id(batch) for batch in owned}
            peer_owners = joined.columns(
                [batch.owners if id(batch) in listed and batch.owners is not None
                 else self._peer_owners(batch.inode, alone) for batch in joined.order], ())
        for batch in owned:
            if joined is not None and id(batch) in joined.at:
                batch.peer_owners = peer_owners[id(batch)]
            else:
                peers = _peer_column(batch)
                if peers is not None:  # a UNIX socket's peer
                    batch.peer_owners = self._peer_owners(peers, alone)
            yield batch
        # Closed between the dump and the walk, or held where we may not look? The kernel says,
        # asked again (recheck.py); only when some socket had no owner. In interval mode a
        # socket the kernel still had at the last pass's asking is not asked about again while
        # it is listed without an owner (a later pass stays as cheap as the cache makes it).
        known = set() if self.reuse is None else self.reuse.open_unowned
        ask = {key: [s for s in sockets if s[0] not in known] for key, sockets in unowned.items()}
        if any(ask.values()):
            from pynetstat.linux.recheck import closed

            gone = closed(self._listed(), ask, self.netlink, self.proc)
            self.closed = len(gone)
        else:
            gone = set()
        if self.reuse is not None:
            self.reuse.open_unowned = {s[0] for sockets in unowned.values() for s in sockets} - gone

    def _own(self, batch: SocketBatch, alone: _SoleOwner,
             unowned: dict[tuple[str, int], list[Unowned]]) -> SocketBatch:
        """The owner join of one batch: its ``owners`` column, and the count (and, for the
        recheck, the ends) of its sockets no visible process holds."""
        owners = self.owners
        assert owners is not None  # the owner join calls it
        first, more = owners.first, owners.more
        inodes = batch.inode
        pids = tuple(map(first.get, inodes))  # inode 0 (TIME_WAIT) is never in the map
        column = list(map(alone.__getitem__, pids))
        if more and not more.keys().isdisjoint(inodes):
            for i, inode in enumerate(inodes):
                if inode in more:
                    column[i] = tuple(self._owner(p) for p in owners.pids(inode))
        missing = pids.count(None) - inodes.count(0)
        if missing:
            self.unattributed += missing
        if missing and batch.SHAPE == "inet":  # the recheck asks by ends: inet sockets only
            from pynetstat.linux.recheck import unowned as unowned_of

            unowned.setdefault((batch.proto, batch.family), []).extend(unowned_of(batch, pids))
        batch.owners = tuple(column)
        return batch

    def _joined(self, batches: Iterable[SocketBatch]) -> Iterable[SocketBatch]:
        """The peer join of TCP and UDP (model/peers.py). The other end of a connection may come
        later in the dump: the whole dump is read before the first row (docs/json.md, "The other
        end of a TCP or UDP connection"). A filter may have left the other end out of the
        listing: then it is asked of the kernel by its ends (``_left_out``)."""
        from pynetstat.model.peers import PEER_PROTOCOLS, join_peers

        if not any(kind.protocol in PEER_PROTOCOLS for kind, _ in self._listed()):
            return batches
        batches = list(batches)
        narrowed = self.selection is not None or self.owner_select is not None
        # -b's arrows need the listeners' ports; JSON and CSV do not
        self.peers = join_peers(batches, self._left_out(batches) if narrowed else (),
                                directions=self.opts.executables)
        return batches

    def _left_out(self, batches: list[SocketBatch]) -> list[SocketBatch]:
        """The sockets that could be the other ends of the listed connections, whichever state
        or owner they have, as recheck.py asks: their exact ends as the kernel's program when
        they are few (``MAX_ENDS`` a kind), else the kind's whole table; each end in both
        families (an IPv4 connection's other end may be an IPv6 socket's, IPv4-mapped)."""
        from pynetstat.kinds import BY_PROTOCOL
        from pynetstat.linux.owner_filter import MAX_ENDS
        from pynetstat.model.peers import PEER_PROTOCOLS, ends_in_family, server_ends

        # protocol -> the other ends (a foreign end None: any, a UDP server's receiving socket)
        wanted: dict[str, dict[tuple[str, int, str | None, int], None]] = {}
        for batch in batches:
            if batch.SHAPE == "inet" and batch.proto in PEER_PROTOCOLS:
                mine = wanted.setdefault(batch.proto, {})
                connected = [(remote, rport, local, lport) for local, lport, remote, rport in zip(
                    batch.local_address, batch.local_port, batch.remote_address,
                    batch.remote_port) if rport]
                mine.update(dict.fromkeys(connected))
                if batch.proto == "udp":  # the unconnected server it sends to (peers._to_servers)
                    mine.update(dict.fromkeys(server_ends(connected)))
        found: list[SocketBatch] = []
        for proto, others in wanted.items():
            for family in (4, 6):
                kind = BY_PROTOCOL.get((proto, family))
                if kind is None or not others:
                    continue
                ends = None
                if len(others) <= MAX_ENDS:
                    ends = {(proto, family): ends_in_family(list(others), family)}
                    if not ends[(proto, family)]:
                        continue
                found.extend(iter_batches([(kind, kind.all_states)], self.netlink, self.proc,
                                          SourceLog(), None, ends))
        if found and self.owner_select is not None and self.owners is not None:
            # the owner filter walked only the fd tables of the processes it keeps: the other
            # ends' holders are looked up in a walk of every process, as -o does
            from pynetstat.linux.owners import scan_owners

            self.peer_map = scan_owners(self.proc.root)
        return found

    def _peer_owners(self, peers: Sequence[int | None], alone: _SoleOwner
                     ) -> tuple[tuple[Owner, ...], ...]:
        """The peer join of UNIX, TCP and UDP sockets: the owners of each socket's peer inode, a
        dict lookup in the same owner map (no second walk; but see ``_left_out``); ``()`` for
        no peer or none visible."""
        owners = self.peer_map if self.peer_map is not None else self.owners
        assert owners is not None  # the owner join calls it
        first, more = owners.first, owners.more
        column = list(map(alone.__getitem__, map(first.get, peers)))  # type: ignore[arg-type]  # get(None): None
        if more and not more.keys().isdisjoint(peers):
            for i, peer in enumerate(peers):
                if peer is not None and peer in more:
                    column[i] = tuple(self._owner(p) for p in owners.pids(peer))
        return tuple(column)

    def _listed(self) -> list[tuple[SocketKind, int]]:
        """``(kind, state mask)`` to dump. A ``--state`` lists every kind and state, as ``-a``
        does, before its own mask narrows them (as ss does); a condition on ports, addresses,
        interfaces or users lists only the kinds whose sockets have them (inet endpoints)."""
        sel = self.selection
        if sel is None:
            listed = selection(self.opts.kinds, self.opts.all or self.opts.bound)
        else:
            listed = selection(self.opts.kinds, self.opts.all or self.opts.bound or sel.by_state)
            listed = [(kind, sel.request_states(states)) for kind, states in listed
                      if kind.shape == "inet" or not sel.column_terms]
        if self.opts.bound:  # -q: TCP's bound, never listening ports (BOUND_INACTIVE)
            listed = [(kind, states | 1 << TCP_BOUND_INACTIVE
                       if kind.has_state and kind.shape == "inet" else states)
                      for kind, states in listed]
            if _kernel_release() < (6, 8):
                self.log.notes.append(
                    f"-q: this kernel ({'.'.join(map(str, _kernel_release()))}) cannot list "
                    "bound TCP ports that do not listen (sock_diag lists them since Linux 6.8): "
                    "no BOUND rows")
        return listed

    def rows(self) -> Iterator[tuple[InetSocket, tuple[Owner, ...]]]:
        for batch in self:
            yield from batch.rows()

    def _owner(self, pid: int) -> Owner:
        """One shared ``Owner`` per PID (records are not changed after they are made)."""
        owner = self._owners.get(pid)
        if owner is None:
            name = process = None
            if self.named:
                from pynetstat.linux.owners import read_comm

                name = read_comm(self.proc.root, pid)
            if self.opts.executables:
                process = self._process(pid)
            owner = self._owners[pid] = Owner(pid, name, process)
        return owner

    def unread_processes(self) -> dict[str, int]:
        """-b: how many owning processes could not be read, by reason (``{"vanished": 1}``)."""
        counts: dict[str, int] = {}
        for owner in self._owners.values():
            why = owner.process.unreadable if owner.process is not None else None
            if why:
                counts[why] = counts.get(why, 0) + 1
        return counts

    def _process(self, pid: int) -> ProcessInfo:
        from pynetstat.linux.process import read_process

        return read_process(self.proc, pid, ancestry=self.opts.verbose, cache=self._process_cache)


def _peer_column(batch: SocketBatch) -> Sequence[int] | None:
    """The inodes of the other ends: a UNIX batch's peer column, the peer join's of a TCP or UDP
    batch (None when it did not run); None for the kinds that have no peer."""
    return getattr(batch, "peer", None)


def _kernel_release() -> tuple[int, ...]:
    """``os.uname().release`` as numbers: ``"6.8.0-31-generic" -> (6, 8)``."""
    import os

    parts = []
    for part in os.uname().release.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit()) if not part.isdigit() else part
        parts.append(int(digits or 0))
    return tuple(parts)


def bind_filter(filt: Filter, netlink: NetlinkSource | None, log: SourceLog) -> Selection:
    """The filter with its interface names resolved: the link table is read only when a
    condition names an interface (``--interface``, an address's ``%ZONE``)."""
    if not filt.interface_names():
        return filt.bind()
    from pynetstat.linux.links import link_table

    links, why = link_table(netlink)
    if why is not None:
        log.filter_notes.append(f"interface addresses could not be read ({why}): --interface "
                                "matched sockets bound to it only")
    return filt.bind(links)


def collect(opts: Options, env: Environment, netlink: NetlinkSource | None,
            reuse: OwnerReuse | None = None) -> ConnectionSet:
    return ConnectionSet(opts, env, netlink, reuse)
