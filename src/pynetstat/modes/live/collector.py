"""The live view's collector: one reading of the connection table with owners, as interval mode
makes it (linux/connections.collect with an OwnerCache, so later readings cost less than the
first), turned into a board ``Delta``. It runs on the collector thread, never the UI's.

With --all-netns a reading is every namespace's, as interval mode's passes are
(linux/allnetns.collect): the namespaces' netlink sockets are kept between readings and their
owners looked up together (``SharedOwners``); a Namespace column comes first, and a row's detail
and close requests go through its namespace's netlink socket. The counters and routes screens
stay the host's (said on screen).

The filter box's conditions join the command line's: both go into the kernel request, as a
listing's filters do (select.py). Closing a connection is linux/destroy.py, as ``--close``; a
lock keeps the collector's and the closer's netlink requests apart (one netlink socket).
"""

from __future__ import annotations

import threading

from pynetstat.errors import CloseRefused
from pynetstat.linux.connections import collect
from pynetstat.linux.destroy import destroy
from pynetstat.linux.diagext import GROUP_INFO
from pynetstat.linux.diagreq import query_socket
from pynetstat.linux.owner_cache import OwnerCache
from pynetstat.linux.owners import read_comm
from pynetstat.model.changes import Snapshot
from pynetstat.model.netns_labels import netns_cell
from pynetstat.modes.live.board import COLUMNS, Board, Lines, sock_key
from pynetstat.modes.live.rates import INFO_COLUMNS, NONE, Counters, Throughput
from pynetstat.render.endpoints import endpoint_cells, pid_text, state_text
from pynetstat.select import Filter
from pynetstat.session import EveryNamespaceInterfaceNames, NoCycleCollection, Session
from pynetstat.textsafe import safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable

    from pynetstat.env import Environment
    from pynetstat.linux.allnetns import AllNamespaces, SharedOwners
    from pynetstat.linux.diagreq import DiagMessage
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import InetSocket, Owner, SocketBatch
    from pynetstat.modes.live.board import Delta, Line
    from pynetstat.modes.live.rates import CounterRow
    from pynetstat.options import Options
    from pynetstat.session import InterfaceNames

# The live view's screens: the connection table, the counters of -s and -e with their rates,
# the routes of -r. --live -s or -e opens on the counters, -r on the routes.
SCREENS = ("connections", "counters", "routes")


def proto_label(sock: InetSocket) -> str:
    return sock.proto.upper() + ("v6" if sock.family == 6 else "")


class Collector:
    """Readings for the live view. ``read(now)`` -> ``Delta``; ``set_filter`` -> the next reading
    starts over with the new conditions; ``close(sock)`` -> destroy's result."""

    def __init__(self, opts: Options, env: Environment):
        opts.pids = True  # the PID and Process columns
        self.opts = opts
        self.session = Session(opts, env)
        # the command line's conditions
        self.base = opts.filter if isinstance(opts.filter, Filter) else None
        self.box: Filter | None = None
        self.pending: tuple[Filter | None] | None = None  # a filter box's change, not yet read
        self.owners = OwnerCache(env.proc_root)
        self.lock = threading.Lock()
        self.comm: dict[int, str] = {}  # pid -> escaped process name, for the pids seen last
        # --info: tcp_info is asked of the kernel (opts.extension_groups) for the rates and RTT
        self.throughput = Throughput() if opts.info else None
        # --all-netns: the Namespace after the Process (the first six stay where the detail
        # panel and the close question read them)
        self.columns = COLUMNS + (("Namespace",) if opts.all_netns else ()) + (
            INFO_COLUMNS if opts.info else ())
        # --all-netns: namespace inode -> its netlink source, kept between readings; each
        # row's namespace by its board key; owners looked up for every namespace together
        self.held: dict[int, NetlinkSource] = {}
        self.netns_of: dict[Hashable, NetNamespace | None] = {}
        self.kept: SharedOwners | None = None
        self.every_names: EveryNamespaceInterfaceNames | None = None
        if opts.all_netns:
            from pynetstat.linux.allnetns import SharedOwners
            from pynetstat.linux.nsenter import own_inode

            self.kept = SharedOwners(env.proc_root)
            self.every_names = EveryNamespaceInterfaceNames({}, own_inode(env.proc_root))
        self.board = Board(self.cells, blank=(NONE,) * len(INFO_COLUMNS) if opts.info else ())
        self.netlink: NetlinkSource = self.session.netlink  # the session's source, as destroy takes it
        self.notes: list[str] = []
        # the counters screen: the views -s and -e asked for (neither: both)
        both = not (opts.statistics or opts.ethernet)
        self.counter_views = {"statistics": both or opts.statistics,
                              "interfaces": both or opts.ethernet}
        self.counters = Counters()
        self.routes = Lines()  # the routes screen's rows, marked as they come and go
        self.start = ("counters" if opts.statistics or opts.ethernet else
                      "routes" if opts.routes else "connections")

    def set_filter(self, box: Filter | None) -> None:
        """The filter box's conditions (None: none), joined to the command line's from the next
        reading on. Called from the UI thread: it only leaves them for the collector thread,
        never waits for a reading in progress."""
        self.box = box
        self.pending = (box,)

    def _take_filter(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            box = pending[0]
            terms = (self.base.terms if self.base else ()) + (box.terms if box else ())
            self.opts.filter = Filter(terms) if terms else None
            self.board.reset()
            if self.throughput is not None:
                self.throughput.reset()

    def read(self, now: float) -> Delta:
        from pynetstat.views.connections import notes

        with self.lock, NoCycleCollection():
            self._take_filter()
            conns = (self._every() if self.kept is not None else
                     collect(self.opts, self.session.env, self.session.netlink, self.owners))
            batches = [batch for batch in conns if len(batch)]
            taken = self.session.env.monotonic()  # the dump is read: the rates' clock
            self.notes = notes(conns)
            snapshot = Snapshot(batches)
            if self.kept is not None:
                self.netns_of = {key: batch.netns for batch, keys in
                                 zip(batches, snapshot.keys) for key in keys}
            names = self.session.names
            if names is not None:
                known = self.board.rows if self.board.previous is not None else {}
                names.resolve_hosts({b.remote_address[i] for b, keys in zip(batches, snapshot.keys)
                                     for i, key in enumerate(keys) if key not in known})
            alive = self._pids(batches)
            self.comm = {pid: name for pid, name in self.comm.items() if pid in alive}
            extra = None
            if self.throughput is not None:
                extra = {key: reading.cells() for key, reading in
                         self.throughput.update(batches, snapshot.keys, taken).items()}
            delta = self.board.update(snapshot, now, extra)
            self.session.bound_caches()
            return delta

    def _every(self) -> AllNamespaces:
        """One reading of every namespace (--all-netns); the netlink sources of the namespaces
        read through netlink are kept for the next, the others' closed."""
        from pynetstat.linux.allnetns import collect as collect_all

        assert self.every_names is not None  # made with kept, in __init__
        every = collect_all(self.opts, self.session.env, self.held, self.kept)
        self.held = every.keep(self.held)
        self.every_names.update(every.netlinks())
        return every

    def _netlink(self, sock: InetSocket) -> NetlinkSource | None:
        """The netlink source that reaches ``sock``: the session's, or with --all-netns its
        namespace's (None: that namespace was read from /proc, not entered)."""
        if self.kept is None:
            return self.session.netlink
        ns = self.netns_of.get(sock_key(sock))
        return self.session.netlink if ns is None else self.held.get(ns.inode)

    def shown(self, screen: str) -> None:
        """``screen`` is shown again after another was: its rates start over (a rate over the
        time it was hidden would not be the last refresh's). Collector thread."""
        if screen == "counters":
            self.counters.reset()
        elif screen == "connections" and self.throughput is not None:
            self.throughput.reset()

    def _sections(self, *, statistics: bool = False, ethernet: bool = False,
                  routes: bool = False) -> list[tuple[str, object, object]]:
        """One reading of the chosen -s, -e, -r views, by interval mode's collectors."""
        import copy

        from pynetstat.modes import collect_sections

        opts = copy.copy(self.opts)
        opts.statistics, opts.ethernet, opts.routes = statistics, ethernet, routes
        session = copy.copy(self.session)
        session.opts = opts
        return collect_sections(session)

    def read_counters(self) -> list[CounterRow]:
        """The counters screen: every counter of the views shown, its rate since the reading
        before and its recent rates (rates.Counters)."""
        from pynetstat.modes import section_notes
        from pynetstat.modes.interval import section_readings

        with self.lock, NoCycleCollection():
            sections = self._sections(statistics=self.counter_views["statistics"],
                                      ethernet=self.counter_views["interfaces"])
            taken = self.session.env.monotonic()
            readings = {key: section_readings(self.opts, key, view, snapshot)[0]
                        for key, view, snapshot in sections}
            self.notes = section_notes(sections) + self._host_only()
            return self.counters.update(readings, taken)

    def read_routes(self, now: float) -> list[Line]:
        """The routes screen: a row per shown route and next hop (views/routes.route_rows),
        marked if it came or went since the reading before (board.Lines)."""
        from pynetstat.modes import section_notes
        from pynetstat.views.routes import route_rows

        with self.lock, NoCycleCollection():
            sections = self._sections(routes=True)
            self.notes = section_notes(sections) + self._host_only()
            rows = [row for _key, _view, snapshot in sections
                    for row in route_rows(snapshot, self.opts)]  # type: ignore[arg-type]
            return self.routes.update(rows, now)

    def _host_only(self) -> list[str]:
        if self.kept is None:
            return []
        return ["--all-netns: this screen shows the host's namespace (each namespace's: "
                "pynetstat --all-netns -s, -e, -r)"]

    @staticmethod
    def _pids(batches: list[SocketBatch]) -> set[int]:
        return {owner.pid for batch in batches for owners in set(batch.owners or ())
                for owner in owners}

    def cells(self, sock: InetSocket, owners: tuple[Owner, ...]) -> tuple[str, ...]:
        """Proto, Local, Foreign, State, PID, Process: escaped text, as the table prints it; with
        --all-netns then the Namespace (and a scope's interface named in its namespace)."""
        ifname: InterfaceNames = self.session.ifname
        tail: tuple[str, ...] = ()
        if self.every_names is not None:
            ns = self.netns_of.get(sock_key(sock))
            ifname, tail = self.every_names.within(ns), (netns_cell(ns),)
        local, remote = endpoint_cells(sock, ifname, self.session.names)
        pids = sorted(owner.pid for owner in owners)
        process = ", ".join(dict.fromkeys(self.name(pid) for pid in pids))
        return (proto_label(sock), local, remote, state_text(sock), pid_text(tuple(pids)),
                process) + tail

    def name(self, pid: int) -> str:
        name = self.comm.get(pid)
        if name is None:
            comm = read_comm(self.session.env.proc_root, pid)
            name = self.comm[pid] = "?" if comm is None else safe(comm)
        return name

    def socket_detail(self, sock: InetSocket) -> DiagMessage | None:
        """``DiagMessage`` of one socket with tcp_info and the congestion algorithm (its timer
        is in every message), or None: gone, not TCP, or not from sock_diag (no cookie)."""
        netlink = self._netlink(sock)
        if sock.proto != "tcp" or sock.cookie is None or netlink is None:
            return None
        with self.lock:
            return query_socket(netlink, sock.family, sock.proto,
                                (sock.local_address, sock.local_port),
                                (sock.remote_address, sock.remote_port), cookie=sock.cookie,
                                ext=GROUP_INFO, ifindex=sock.scope or 0)

    def close(self, sock: InetSocket) -> str:
        """Close one TCP connection: ``"closed"`` or ``"gone"``; CloseRefused, NetlinkError."""
        netlink = self._netlink(sock)
        if netlink is None:
            raise CloseRefused("its network namespace was read from /proc/PID/net, not entered "
                               "(entering it needs CAP_SYS_ADMIN)")
        with self.lock:
            return destroy(netlink, sock)

    def shutdown(self, wait: bool = True) -> None:
        """Close the netlink socket; without ``wait``, only if no reading holds it (at exit: a
        reading still running ends with the process)."""
        if self.lock.acquire(blocking=wait):
            try:
                for netlink in self.held.values():
                    netlink.close()
                self.held = {}
                self.session.close()
            finally:
                self.lock.release()
