"""Interval mode: redisplay the chosen view every interval seconds until Ctrl+C or SIGTERM.

Each pass is a whole display of the mode (the spec's netstat), or with ``--changes``, after the
first, only what changed since the pass before: connections that appeared (``+``), closed
(``-``) or changed state (``~``), keyed by the kernel's socket cookie (which a socket keeps through
close() and TIME_WAIT; the inode is lost at close()); counters that moved (``~``, with delta and
rate), went backwards (``!``: an interface reset or a 32-bit counter that wrapped; the new value
is reported, never a negative rate), appeared (``+``) or went away (``-``); routes added or
removed. With ``--json`` every display and every change is one JSON line (docs/interval.md).

Passes run on ``env.monotonic``: pass k+1 is due one interval after pass k was due (not after it
ended), so the time a pass takes never accumulates. A pass that overruns its slot is followed at
once by the next, which becomes the new anchor: missed slots are skipped, not made up in a burst.

This module is loaded only with an interval, so it may import what the plain ``-an`` path must
not (``signal`` builds enums on import).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from contextlib import nullcontext, suppress
from itertools import chain, count

from pynetstat.errors import Exit, PynetstatError
from pynetstat.model.sockets import InetSocket, SocketBatch
from pynetstat.run import NoCycleCollection

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pynetstat.run import Session

_MAX_HOSTS = 65536  # resolved names kept across passes before the cache starts over
SCHEMA_VERSION = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM in interval mode. A KeyboardInterrupt, so that one raised after the loop has ended
    is still caught by ``cli.main`` (and ends quietly) rather than printing a traceback."""


def _terminate(signum, frame):
    raise Terminated


class _HoldLine:
    """With --json, SIGINT and SIGTERM are held while a display is written and act as soon as
    its line is whole, so that a JSON Lines stream never ends in half a record (``> file``,
    ``| jq``). They are blocked (pthread_sigmask), not caught and put off: a handler that
    returns while a large write to a full pipe is in progress makes CPython's BufferedWriter
    repeat and drop bytes (3.11 to 3.13; see docs/hardening.md). The cost: while a reader that
    stopped reading keeps a display from ending, only SIGKILL ends the run."""

    def __init__(self) -> None:
        import signal

        self.signals = {signal.SIGINT, signal.SIGTERM}
        self.sigmask = signal.pthread_sigmask
        self.block, self.unblock = signal.SIG_BLOCK, signal.SIG_UNBLOCK

    def __enter__(self) -> None:
        self.sigmask(self.block, self.signals)

    def __exit__(self, *exc) -> None:
        """The line is whole (or the display failed): a signal that came meanwhile acts now."""
        self.sigmask(self.unblock, self.signals)


def run_interval(session: Session) -> int:
    """Display every ``opts.interval`` seconds until interrupted: 130 on Ctrl+C, 143 on SIGTERM.
    A closed stdout raises BrokenPipeError, which ``cli.main`` turns into a quiet 141."""
    import signal

    previous = None
    log = PassLog.from_environ(session.env.environ)
    try:
        try:
            # Outside the main thread (an embedding caller) ValueError: SIGTERM is left alone.
            with suppress(ValueError):
                previous = signal.signal(signal.SIGTERM, _terminate)
            _loop(session, log, _HoldLine() if session.opts.json and previous is not None else None)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if log is not None:
                log.close()
    except Terminated:
        return Exit.TERMINATED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    return Exit.OK  # not reached: only a signal or an error ends the loop


def _loop(session: Session, log: PassLog | None, hold: _HoldLine | None = None) -> None:
    opts, env = session.opts, session.env
    if opts.ethernet or opts.statistics or opts.routes:
        monitor: ConnectionsMonitor | SectionsMonitor = SectionsMonitor(session)
    else:
        monitor = ConnectionsMonitor(session)
    schedule = Schedule(opts.interval, env.monotonic, env.sleep)
    for number in count(1):
        started = schedule.begin()
        with hold or nullcontext(), NoCycleCollection():
            facts = monitor.show(number, env.wall_clock())
            env.stdout.flush()
        if log is not None:
            log.write({"pass": number, "seconds": round(env.monotonic() - started, 6),
                       "skipped": schedule.skipped, **facts})
        schedule.pause()


class Schedule:
    """When passes start. ``begin()`` at the start of a pass, ``pause()`` after it."""

    def __init__(self, interval: float, clock: Callable[[], float],
                 sleep: Callable[[float], None]):
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.due: float | None = None  # when the current pass was due
        self.skipped = 0  # slots missed because a pass overran them

    def begin(self) -> float:
        now = self.clock()
        if self.due is None:
            self.due = now
        return now

    def pause(self) -> None:
        """Sleep until the next pass is due; when it is already due (the pass overran), return at
        once and re-anchor the schedule on now, counting the slots that were skipped."""
        self.due += self.interval
        now = self.clock()
        if now >= self.due:
            self.skipped += int((now - self.due) // self.interval)
            self.due = now
            return
        self.sleep(self.due - now)


class PassLog:
    """``PYNETSTAT_PASS_TIMES=FILE``: one JSON line per pass appended to FILE, flushed at once:
    ``{"pass": 2, "seconds": 0.41, "skipped": 0, "rows": 200004, "owners": "reused"}``.
    ``seconds`` is the whole pass (collect, diff, render, flush of stdout), for bench/bench.py."""

    def __init__(self, path: str):
        try:
            self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        except OSError as e:
            raise PynetstatError(f"cannot open PYNETSTAT_PASS_TIMES file {path}: "
                                 f"{e.strerror or e}") from None

    @classmethod
    def from_environ(cls, environ: dict[str, str]) -> PassLog | None:
        path = environ.get("PYNETSTAT_PASS_TIMES")
        return cls(path) if path else None

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


# --- connections ------------------------------------------------------------------------------

def socket_keys(batch: SocketBatch) -> tuple:
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
        self.states: dict = {}
        self.starts = []  # position of each batch's first socket
        at = 0
        for batch, keys in zip(batches, self.keys, strict=True):
            self.states.update(zip(keys, batch.state, strict=True))
            self.starts.append(at)
            at += len(keys)
        self._where: dict | None = None

    def position(self, key) -> int:
        if self._where is None:
            self._where = dict(zip(chain.from_iterable(self.keys), count()))
        return self._where[key]

    def row(self, position: int) -> tuple[InetSocket, tuple]:
        """``(socket, owners)`` at a position of the pass's kernel order."""
        b = bisect_right(self.starts, position) - 1
        batch, i = self.batches[b], position - self.starts[b]
        return batch.socket_at(i), (batch.owners[i] if batch.owners is not None else ())


class ConnectionChange:
    """A socket that appeared (``"added"``), closed (``"removed"``) or changed state (``"state"``,
    with the state it had before)."""

    __slots__ = ("kind", "sock", "owners", "previous_state")

    def __init__(self, kind: str, sock: InetSocket, owners: tuple, previous_state: int | None = None):
        self.kind = kind
        self.sock = sock
        self.owners = owners
        self.previous_state = previous_state

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
    out = [ConnectionChange("removed", *before.row(p)) for p in sorted(map(before.position, gone))]
    for position, key in sorted((after.position(key), key) for key in moved):
        sock, owners = after.row(position)
        state = old.get(key)
        out.append(ConnectionChange("added" if state is None else "state", sock, owners, state))
    return out


class ConnectionsMonitor:
    """The connection table, pass after pass; with owners, an ``OwnerCache`` makes later passes
    cheaper than the first."""

    def __init__(self, session: Session):
        self.session = session
        self.owners = None
        if session.opts.wants_owners:
            from pynetstat.linux.owner_cache import OwnerCache

            self.owners = OwnerCache(session.env.proc_root)
        self.previous: Snapshot | None = None  # with --changes
        self.writer = None
        self.said: set[str] = set()  # the last pass's notes: each is said when it first appears
        self.rows = 0

    def show(self, number: int, stamp: float) -> dict:
        from pynetstat.linux.connections import collect
        from pynetstat.run import notes, write_connections_display

        session = self.session
        opts, env = session.opts, session.env
        conns = collect(opts, env, session.netlink, self.owners)
        self.rows = 0
        if self.previous is None or not opts.changes:
            kept: list[SocketBatch] | None = [] if opts.changes else None
            head = {"type": "display", "timestamp": stamp, "pass": number}
            out = OneLine(env.stdout) if opts.json else env.stdout
            write_connections_display(session, conns, self._counted(iter(conns), kept), out, head)
            if opts.json:
                env.stdout.write("\n")
            if kept is not None:
                self.previous = Snapshot(kept)
                self._writer().begin()
        else:
            current = Snapshot(list(self._counted(iter(conns), None)))
            changes = connection_changes(self.previous, current)
            self.previous = current
            if changes:
                if session.names is not None:
                    session.names.resolve_hosts(c.sock.remote_address for c in changes)
                self._writer().write(changes, stamp, number)
        _say(env, notes(conns), self)
        _bound_caches(session)
        return {"rows": self.rows, "owners": self.owners.how if self.owners else None}

    def _counted(self, batches: Iterator[SocketBatch], kept: list | None) -> Iterator[SocketBatch]:
        for batch in batches:
            self.rows += len(batch)
            if kept is not None:
                kept.append(batch)
            yield batch

    def _writer(self):
        if self.writer is None:
            from pynetstat.render.changes import ConnectionChangeWriter

            self.writer = ConnectionChangeWriter(self.session)
        return self.writer


class OneLine:
    """A stream that drops newlines, so that a JSON document written for humans becomes one JSON
    line (``json.dumps`` escapes every newline inside a string, so each one here is layout)."""

    __slots__ = ("out",)

    def __init__(self, out):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text.replace("\n", ""))


# --- statistics, interfaces, routes -----------------------------------------------------------

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
                    seconds: float) -> list[CounterChange]:
    """Counters that differ between two readings ``seconds`` apart, in the later reading's order.

    A counter that went backwards was reset (an interface brought down and up, a driver reloaded)
    or wrapped (a 32-bit counter passing 4294967295). The two cannot be told apart from two
    readings, so no delta is invented: it is reported as a reset, with its new value.

    >>> counter_changes("s", {"a": 4294967290, "b": 5}, {"a": 12, "b": 9}, 2.0)
    [CounterChange('a', 'reset', 4294967290 -> 12), CounterChange('b', 'moved', 5 -> 9)]
    """
    out = []
    for name, value in after.items():
        old = before.get(name)
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


def route_keys(view, snapshot, opts) -> dict[str, dict]:
    """The routes a -r display shows, by a key that changes when anything shown of them does."""
    routes = [view.route_json(r) for family in (4, 6)
              for r in view.shown_routes(snapshot, family, opts)]
    return {json.dumps(r, sort_keys=True): r for r in routes}


class SectionsMonitor:
    """-e, -s and -r, pass after pass."""

    def __init__(self, session: Session):
        self.session = session
        self.before: dict | None = None  # with --changes: view key -> counters (and routes)
        self.when = 0.0
        self.writer = None
        self.said: set[str] = set()  # notes already on stderr (_say)

    def show(self, number: int, stamp: float) -> dict:
        from pynetstat.sections import collect_sections, section_notes, sections_json

        session = self.session
        opts, env = session.opts, session.env
        sections = collect_sections(session)
        taken = env.monotonic()
        if self.before is None or not opts.changes:
            if opts.json:
                head = {"schema_version": SCHEMA_VERSION, "type": "display", "timestamp": stamp,
                        "pass": number}
                env.stdout.write(json.dumps({**head, **sections_json(sections, opts)}) + "\n")
            else:
                env.stdout.write("".join(view.render_text(snapshot, opts)
                                         for _, view, snapshot in sections))
        if opts.changes:
            after = {key: self._readings(key, view, snapshot) for key, view, snapshot in sections}
            if self.before is None:
                self._writer().begin()
            else:
                seconds = taken - self.when
                counters, routes = [], []
                for key, (values, shown) in after.items():
                    old_values, old_shown = self.before[key]
                    counters += counter_changes(key, old_values, values, seconds)
                    routes += [("removed", r) for k, r in old_shown.items() if k not in shown]
                    routes += [("added", r) for k, r in shown.items() if k not in old_shown]
                if counters or routes:
                    self._writer().write(counters, routes, stamp, number)
            self.before, self.when = after, taken
        _say(env, section_notes(sections), self)
        return {"rows": None, "owners": None}

    def _readings(self, key: str, view, snapshot) -> tuple[dict[str, int], dict[str, dict]]:
        opts = self.session.opts
        values = view.counters(snapshot)
        if key == "statistics" and opts.protocol is not None:
            groups = set()
            for section in view.selected_sections(opts):
                groups.update((section.group, section.type_group, *section.extra))
            values = {name: v for name, v in values.items() if name.partition(".")[0] in groups}
        return values, (route_keys(view, snapshot, opts) if key == "routes" else {})

    def _writer(self):
        if self.writer is None:
            from pynetstat.render.changes import CounterChangeWriter

            self.writer = CounterChangeWriter(self.session)
        return self.writer


# --- what every pass shares -------------------------------------------------------------------

_DIGITS = str.maketrans("", "", "0123456789")


def _say(env, notes: Iterable[str], monitor) -> None:
    """Notes on stderr, each when it first appears rather than on every pass: a note is the same
    note when only its numbers changed ("3 sockets could not be attributed ..." -> "4 ...")."""
    said = set()
    for note in notes:
        kind = note.translate(_DIGITS)
        if kind not in monitor.said:
            env.stderr.write(f"pynetstat: {note}\n")
        said.add(kind)
    monitor.said = said


def _bound_caches(session: Session) -> None:
    """Name caches grow with the addresses seen; a long session over churning peers starts them
    over rather than growing without end."""
    names = session.names
    if names is not None and len(names.hosts) > _MAX_HOSTS:
        names.hosts.clear()
    if len(session.ifname.cache) > _MAX_HOSTS:
        session.ifname.cache.clear()
