"""``--all-netns``: one display across every network namespace: the connection table with a
Namespace column, or (-e, -s, -r) each namespace's sections in turn, the host's first. The
namespaces that could not be read are named on stderr, each with why, after the output. With
an interval, interval mode runs passes of it (modes/allnetns_interval.py)."""

from __future__ import annotations

from pynetstat.errors import Exit
from pynetstat.formats import chosen
from pynetstat.linux.nsenter import own_inode
from pynetstat.model.changes import Snapshot, connection_changes, namespace_changes
from pynetstat.modes import wanted
from pynetstat.modes.interval import ConnectionsMonitor
from pynetstat.session import NoCycleCollection, Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pynetstat.env import Environment
    from pynetstat.formats import Connections, CounterChangeWriter, Format, Head, Section
    from pynetstat.linux.allnetns import AllNamespaces, NamespacePart, SharedOwners
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.model.changes import ConnectionChange
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.modes.interval import Readings
    from pynetstat.options import Options


def run(opts: Options, env: Environment) -> int:
    from pynetstat.linux.allnetns import collect

    if opts.interval is not None:
        from pynetstat.modes.interval import run as every_interval

        return every_interval(opts, env, AllNamespacesMonitor)
    session = Session(opts, env)
    every = collect(opts, env)
    try:
        with NoCycleCollection():
            if wanted(opts):
                _sections(session, every)
            else:
                _connections(session, every)
        return Exit.OK
    finally:
        every.close()
        session.close()


def _connections(session: Session, every: AllNamespaces) -> None:
    from pynetstat.session import EveryNamespaceInterfaceNames
    from pynetstat.views.connections import notes

    session.ifname = EveryNamespaceInterfaceNames(
        {p.namespace.inode: p.netlink for p in every.parts}, own_inode(session.env.proc_root))
    chosen(session).write_connections(session.env.stdout, every,
                                      session.in_order(iter(every)))
    for note in notes(every):
        session.say(note)


def _sections(session: Session, every: AllNamespaces) -> None:
    from pynetstat.model.netns_labels import namespace_notes

    shared = chosen(session) if session.opts.csv else None  # one CSV header for all
    notes = namespace_notes(every) + _section_displays(session, every, shared=shared)
    for note in dict.fromkeys(notes):
        session.say(note)


def _section_displays(session: Session, every: AllNamespaces, head: Head | None = None,
                      shared: Format | None = None) -> list[str]:
    """Each namespace's -e, -s, -r, read through its own netlink source and net/ files; a
    ``netns`` head names it (a title line in text, the ``netns`` field of its JSON line, the
    ``netns_*`` cells of its CSV rows), after ``head`` (interval mode's). ``shared``: the one
    format every namespace writes through (CSV: one header for the stream), else each
    namespace's own. Returns what could not be read, each line naming its namespace."""
    from pynetstat.model.netns_labels import netns_json

    notes = []
    for part, inside, sections in _namespace_sections(session, every):
        (shared or chosen(inside)).write_sections(
            session.env.stdout, sections, {**(head or {}), "netns": netns_json(part.namespace)})
        notes += _namespace_notes(part.namespace, sections)
    return notes


def _namespace_sections(session: Session, every: AllNamespaces
                        ) -> Iterator[tuple[NamespacePart, Session, list[Section]]]:
    """Each namespace's reading of the selected views, in its own session (its netlink source,
    its net/ files), one namespace at a time."""
    from pynetstat.modes import collect_sections

    for part in every.parts:
        inside = Session(session.opts, part.env)
        yield part, inside, collect_sections(inside)


def _namespace_notes(namespace: NetNamespace, sections: list[Section]) -> list[str]:
    from pynetstat.model.netns_labels import netns_cell
    from pynetstat.modes import section_notes

    label = netns_cell(namespace)
    return [f"namespace {label}: {note}" for note in section_notes(sections)]


# --- with an interval ------------------------------------------------------------------------
#
# A pass is what a single run does: one discovery (one /proc walk, the mount table), every
# namespace reached, one owner walk for all, then the display; or, with --changes, what changed
# since the pass before, namespace by namespace: a socket is the same socket when it is in the
# same namespace with the same key (model/changes.py), so the same four-tuple in two namespaces
# is two connections. A namespace that appeared or went away between two passes is said
# (``write_namespace_changes``), before the changes of its connections.
#
# The netlink socket made inside a namespace is kept from pass to pass while the namespace is
# found: no setns for it again, and, as the socket holds the namespace, its inode cannot pass to
# a new namespace meanwhile (the kernel reuses an inode only once its namespace is freed): the
# same inode at the next pass is the same namespace. A namespace that no discovery finds any
# more is said gone, and its socket closed.

class AllNamespacesMonitor(ConnectionsMonitor):
    """The connection table (or -e, -s, -r) of every namespace, pass after pass."""

    def __init__(self, session: Session, fmt: Format):
        from pynetstat.session import EveryNamespaceInterfaceNames

        super().__init__(session, fmt)
        self.owners = None
        # owners kept from pass to pass, looked up for every namespace's sockets together
        self.kept: SharedOwners | None = None
        if session.opts.wants_owners:
            from pynetstat.linux.allnetns import SharedOwners

            self.kept = SharedOwners(session.env.proc_root)
        self.sections = wanted(session.opts)
        # with -e, -s, -r and --changes: each namespace's readings of the pass before, by inode
        # (a namespace first read in a pass: its readings are what its next pass is compared
        # with; its appearing is said, its counters are not all "new")
        self.readings: dict[int, dict[str, Readings]] | None = None
        self.when = 0.0
        self.counter_writer: CounterChangeWriter | None = None
        self.held: dict[int, NetlinkSource] = {}  # namespace inode -> its netlink source
        self.present: dict[int, NetNamespace] | None = None  # the last pass's, by inode
        self.names = EveryNamespaceInterfaceNames({}, own_inode(session.env.proc_root))
        session.ifname = self.names

    def show(self, number: int, stamp: float) -> dict[str, object]:
        from pynetstat.linux.allnetns import collect
        from pynetstat.model.netns_labels import namespace_note_items
        from pynetstat.views.connections import notes

        session = self.session
        every = collect(session.opts, session.env, self.held, self.kept)
        self._hold(every)
        present = {ns.inode: ns for ns in every.discovery.namespaces}
        if self.present is not None:
            events = namespace_changes(self.present, present)
            if events:
                self.fmt.write_namespace_changes(session.env.stdout, events, stamp, number)
        self.present = present
        if self.sections:
            self.notes.say(self._sections(every, number, stamp))
        else:
            self.display(every, number, stamp)
            self.notes.say(notes(every, namespaces=False))
            session.bound_caches()
        self.notes.say_keyed(namespace_note_items(every))
        return {"rows": None if self.sections else self.rows,
                "owners": ("walk" if every.owners is not None else None if self.kept is None
                           or self.kept.owners is None else self.kept.cache.how),
                "namespaces": len(every.parts)}

    def _sections(self, every: AllNamespaces, number: int, stamp: float) -> list[str]:
        """-e, -s, -r of every namespace: the whole sections at every pass, or with --changes
        at the first, then what moved in each namespace since the pass before (the counters'
        rows labelled with their namespace). Returns the notes."""
        session = self.session
        opts, out = session.opts, session.env.stdout
        head = {"type": "display", "timestamp": stamp, "pass": number, "host": session.host()}
        shared = self.fmt if opts.csv else None
        if not opts.changes:
            return _section_displays(session, every, head, shared)
        from pynetstat.model.netns_labels import netns_json
        from pynetstat.modes.interval import section_changes, section_readings

        taken = session.env.monotonic()
        seconds = taken - self.when
        before = self.readings
        readings: dict[int, dict[str, Readings]] = {}
        notes: list[str] = []
        for part, inside, sections in _namespace_sections(session, every):
            ns = part.namespace
            after = readings[ns.inode] = {key: section_readings(opts, key, view, snapshot)
                                          for key, view, snapshot in sections}
            notes += _namespace_notes(ns, sections)
            if before is None:  # the first pass: every namespace's whole sections
                (shared or chosen(inside)).write_sections(out, sections,
                                                          {**head, "netns": netns_json(ns)})
                continue
            was = before.get(ns.inode)
            if was is None:
                continue  # new since the pass before: said as a namespace that appeared
            counters, routes = section_changes(was, after, seconds)
            if counters or routes:
                assert self.counter_writer is not None  # made after the first pass's displays
                self.counter_writer.write(counters, routes, stamp, number, ns)
        if before is None:
            self.counter_writer = self.fmt.counter_changes(out)
            self.counter_writer.begin()
        self.readings, self.when = readings, taken
        return notes

    def _hold(self, every: AllNamespaces) -> None:
        """Keep the netlink sources of the namespaces read through netlink; close the others'."""
        self.held = every.keep(self.held)
        self.names.update(every.netlinks())

    def snapshot(self, conns: Connections, batches: list[SocketBatch]) -> dict[int, Snapshot]:
        """A pass's sockets as one ``Snapshot`` per namespace read, by inode, in the pass's
        order; a namespace found but not read this time keeps the last pass's (its sockets are
        not known to have changed)."""
        every: AllNamespaces = conns  # type: ignore[assignment]  # this monitor's collect
        groups: dict[int, list[SocketBatch]] = {p.namespace.inode: [] for p in every.parts}
        for batch in batches:
            assert batch.netns is not None  # every batch of --all-netns is tagged
            groups[batch.netns.inode].append(batch)
        out = {inode: Snapshot(group) for inode, group in groups.items()}
        if self.previous is not None:
            for ns, _why in every.unread:
                if ns.inode in self.previous:
                    out[ns.inode] = self.previous[ns.inode]
        return out

    def changes(self, before: dict[int, Snapshot], after: dict[int, Snapshot],
                conns: Connections) -> list[ConnectionChange]:
        """The connections of namespaces gone closed (in the earlier pass's order), then each
        namespace's changes in the later pass's order: ``connection_changes`` namespace by
        namespace, so a socket is matched only within its own namespace. A namespace that was
        not there has no sockets (an empty ``Snapshot``)."""
        out = []
        for inode, snapshot in before.items():
            if inode not in after:
                out += connection_changes(snapshot, Snapshot([]))
        for inode, snapshot in after.items():
            out += connection_changes(before.get(inode) or Snapshot([]), snapshot)
        return out

    def close(self) -> None:
        for netlink in self.held.values():
            netlink.close()
        self.held = {}
