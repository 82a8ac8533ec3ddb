"""Interval mode: redisplay the chosen view every interval seconds until Ctrl+C or SIGTERM.

Each pass is a whole display of the mode (the spec's netstat), or with ``--changes``, after the
first, only what changed since the pass before (model/changes.py): connections that appeared
(``+``), closed (``-``) or changed state (``~``); counters that moved (``~``, with delta and
rate), went backwards (``!``), appeared (``+``) or went away (``-``); routes added or removed.
With ``--json`` every display and every change is one JSON line (docs/interval.md).

Passes run on ``env.monotonic``: pass k+1 is due one interval after pass k was due (not after it
ended), so the time a pass takes never accumulates. A pass that overruns its slot is followed at
once by the next, which becomes the new anchor: missed slots are skipped, not made up in a burst.

This module is loaded only with an interval, so it may import what the plain ``-an`` path must
not (``signal`` builds enums on import).
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext, suppress
from itertools import count
from time import process_time

from pynetstat.errors import Exit, PynetstatError
from pynetstat.formats import chosen
from pynetstat.model.changes import (
    Snapshot,
    connection_changes,
    counter_changes,
    route_changes,
    route_keys,
)
from pynetstat.modes import wanted
from pynetstat.session import NoCycleCollection, Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, Protocol, TextIO

    from pynetstat.env import Environment
    from pynetstat.formats import (
        ConnectionChangeWriter,
        Connections,
        CounterChangeWriter,
        Format,
    )
    from pynetstat.linux.owner_cache import OwnerCache
    from pynetstat.model.changes import ConnectionChange, CounterChange, Route
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.modes.signals import HoldLine
    from pynetstat.options import Options

    # one view's counters and, for -r, its shown routes by key (``section_readings``)
    Readings = tuple[dict[str, int], dict[str, Route]]

    class Monitor(Protocol):
        """What interval mode asks of a pass: show it, say what it cost (the pass log's facts),
        and let go of what it holds at the end (``close``)."""

        def show(self, number: int, stamp: float) -> dict[str, object]: ...

        def close(self) -> None: ...

    MonitorClass = Callable[[Session, Format], Monitor]


def run(opts: Options, env: Environment, monitor: MonitorClass | None = None) -> int:
    """Display every ``opts.interval`` seconds until interrupted: 130 on Ctrl+C, 143 on SIGTERM.
    A closed stdout raises BrokenPipeError, which ``cli.main`` turns into a quiet 141.
    ``monitor``: what a pass shows (``--all-netns`` brings its own: modes/allnetns.py); by
    default the mode's, from the options."""
    session = Session(opts, env)
    try:
        return _run(session, monitor)
    finally:
        session.close()


def _run(session: Session, monitor: MonitorClass | None = None) -> int:
    import signal

    from pynetstat.modes.signals import HoldLine, Terminated, terminate

    previous = hold = None
    fmt = chosen(session)
    log = PassLog.from_environ(session.env.environ)
    try:
        try:
            # Outside the main thread (an embedding caller) ValueError: SIGTERM is left alone.
            with suppress(ValueError):
                previous = signal.signal(signal.SIGTERM, terminate)
            if fmt.line_records and previous is not None:
                hold = HoldLine(_fileno(session.env.stdout))
            _loop(session, fmt, log, hold, monitor)
        finally:
            if hold is not None:
                hold.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if log is not None:
                log.close()
    except Terminated:
        return Exit.TERMINATED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    return Exit.OK  # not reached: only a signal or an error ends the loop


def _loop(session: Session, fmt: Format, log: PassLog | None, hold: HoldLine | None = None,
          kind: MonitorClass | None = None) -> None:
    opts, env = session.opts, session.env
    if kind is None:
        kind = (SectionsMonitor if wanted(opts) else
                ProcessesMonitor if opts.processes else ConnectionsMonitor)
    monitor = kind(session, fmt)
    assert opts.interval is not None  # this mode runs only with an interval (cli.main)
    # the run's own sleep (a test's fake clock), else one that any signal ends (HoldLine.sleep)
    sleep = hold.sleep if hold is not None and env.sleep is time.sleep else env.sleep
    schedule = Schedule(opts.interval, env.monotonic, sleep)
    try:
        for number in count(1):
            started = schedule.begin()
            cpu = process_time() if log is not None else 0.0
            with hold or nullcontext(), NoCycleCollection():
                facts = monitor.show(number, env.wall_clock())
                env.stdout.flush()
            if log is not None:
                log.write({"pass": number, "seconds": round(env.monotonic() - started, 6),
                           "cpu": round(process_time() - cpu, 6),
                           "skipped": schedule.skipped, **facts})
            schedule.pause()
    finally:
        monitor.close()


def _fileno(stream: TextIO) -> int | None:
    """The file descriptor under ``stream``, or None (a StringIO of an in-process run)."""
    try:
        return stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


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
        assert self.due is not None, "pause() before begin()"
        self.due += self.interval
        now = self.clock()
        if now >= self.due:
            self.skipped += int((now - self.due) // self.interval)
            self.due = now
            return
        self.sleep(self.due - now)


class PassLog:
    """``PYNETSTAT_PASS_TIMES=FILE``: one JSON line per pass appended to FILE, flushed at once:
    ``{"pass": 2, "seconds": 0.41, "cpu": 0.38, "skipped": 0, "rows": 200004, "owners":
    "reused"}``. ``seconds`` is the whole pass (collect, diff, render, flush of stdout), ``cpu``
    this process's CPU time (user and system) in it, for bench/bench.py and
    bench/allnetns_cli.py."""

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

    def write(self, record: dict[str, object]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class ConnectionsMonitor:
    """The connection table, pass after pass; with owners, an ``OwnerCache`` makes later passes
    cheaper than the first."""

    def __init__(self, session: Session, fmt: Format):
        self.session = session
        self.fmt = fmt
        self.owners: OwnerCache | None = None
        if session.opts.wants_owners:
            from pynetstat.linux.owner_cache import OwnerCache

            self.owners = OwnerCache(session.env.proc_root)
        # with --changes: the last pass's sockets (``snapshot``); ``Any``: --all-netns keeps
        # one per namespace
        self.previous: Any = None
        self.writer: ConnectionChangeWriter | None = None  # with --changes, after the first
        self.notes = Notes(session)
        self.rows = 0
        from pynetstat.modes.measuring import Measuring

        # --info, -i: rates, time seen in state
        self.measuring = Measuring.of(session.opts, session.env.monotonic)

    def show(self, number: int, stamp: float) -> dict[str, object]:
        from pynetstat.linux.connections import collect
        from pynetstat.views.connections import notes

        session = self.session
        conns = collect(session.opts, session.env, session.netlink, self.owners)
        self.display(conns, number, stamp)
        self.notes.say(notes(conns))
        session.bound_caches()
        return {"rows": self.rows, "owners": self.owners.how if self.owners else None}

    def display(self, conns: Connections, number: int, stamp: float) -> None:
        """The whole table; with --changes, after the first pass, what changed since the pass
        before (``snapshot`` and ``changes`` say how sockets are kept and compared). With
        --info or -i, each connection's measures over the pass (``Measuring``)."""
        session = self.session
        opts, out = session.opts, session.env.stdout
        measuring = self.measuring
        read: Iterator[SocketBatch] = iter(conns)
        if measuring is not None:
            read = measuring.batches(read)
        self.rows = 0
        if self.previous is None or not opts.changes:
            kept: list[SocketBatch] | None = [] if opts.changes else None
            head = {"type": "display", "timestamp": stamp, "pass": number, "host": session.host()}
            batches = session.in_order(self._counted(read, kept))
            self.fmt.write_connections(out, conns, batches, head)
            if kept is not None:
                self.previous = self.snapshot(conns, kept)
                self.writer = writer = self.fmt.connection_changes(out)
                writer.begin()
        else:
            current = self.snapshot(conns, list(self._counted(read, None)))
            changes = self.changes(self.previous, current, conns)
            self.previous = current
            if changes:
                if session.names is not None:
                    session.names.resolve_hosts(c.sock.remote_address for c in changes)
                assert self.writer is not None  # made with the first display, as previous was
                self.writer.write(changes, stamp, number)
        if measuring is not None:
            measuring.finish()

    def snapshot(self, conns: Connections, batches: list[SocketBatch]) -> Any:
        """A pass's sockets as ``changes`` compares them."""
        return Snapshot(batches)

    def changes(self, before: Any, after: Any, conns: Connections) -> list[ConnectionChange]:
        return connection_changes(before, after)

    def close(self) -> None:
        """Nothing of its own is open (the session's netlink source is the session's)."""

    def _counted(self, batches: Iterator[SocketBatch], kept: list[SocketBatch] | None
                 ) -> Iterator[SocketBatch]:
        for batch in batches:
            self.rows += len(batch)
            if kept is not None:
                kept.append(batch)
            yield batch


class ProcessesMonitor:
    """-c, pass after pass: the processes by ports held; with --info the bytes per second each
    process's TCP connections moved since the pass before (``model.passes.ByteRates``)."""

    def __init__(self, session: Session, fmt: Format):
        from pynetstat.linux.owner_cache import OwnerCache
        from pynetstat.model.passes import ByteRates

        self.session = session
        self.fmt = fmt
        self.owners = OwnerCache(session.env.proc_root)
        self.traffic = ByteRates() if session.opts.info else None
        self.notes = Notes(session)

    def show(self, number: int, stamp: float) -> dict[str, object]:
        from pynetstat.linux.connections import collect
        from pynetstat.views.connections import notes
        from pynetstat.views.processes import port_counts

        session = self.session
        env = session.env
        conns = collect(session.opts, env, session.netlink, self.owners)
        rows = port_counts(conns, self.traffic, env.monotonic())
        self.fmt.write_processes(env.stdout, rows, {"type": "display", "timestamp": stamp,
                                                    "pass": number, "host": session.host()})
        self.notes.say(notes(conns))
        return {"rows": len(rows), "owners": self.owners.how}

    def close(self) -> None:
        """Nothing of its own is open."""


class SectionsMonitor:
    """-e, -s and -r, pass after pass."""

    def __init__(self, session: Session, fmt: Format):
        self.session = session
        self.fmt = fmt
        # with --changes: view key -> counters (and routes)
        self.before: dict[str, Readings] | None = None
        self.when = 0.0
        self.writer: CounterChangeWriter | None = None  # with --changes, after the first
        self.notes = Notes(session)

    def show(self, number: int, stamp: float) -> dict[str, object]:
        from pynetstat.modes import collect_sections, section_notes

        session = self.session
        opts, env = session.opts, session.env
        sections = collect_sections(session)
        taken = env.monotonic()
        if self.before is None or not opts.changes:
            self.fmt.write_sections(env.stdout, sections, {"type": "display", "timestamp": stamp,
                                                           "pass": number, "host": session.host()})
        if opts.changes:
            after = {key: self._readings(key, view, snapshot) for key, view, snapshot in sections}
            if self.before is None:
                self.writer = writer = self.fmt.counter_changes(env.stdout)
                writer.begin()
            else:
                counters, routes = section_changes(self.before, after, taken - self.when)
                if counters or routes:
                    assert self.writer is not None  # made with the first display, as before was
                    self.writer.write(counters, routes, stamp, number)
            self.before, self.when = after, taken
        self.notes.say(section_notes(sections))
        return {"rows": None, "owners": None}

    def close(self) -> None:
        """Nothing of its own is open."""

    def _readings(self, key: str, view: Any, snapshot: Any) -> Readings:
        return section_readings(self.session.opts, key, view, snapshot)


def section_changes(before: dict[str, Readings], after: dict[str, Readings], seconds: float
                    ) -> tuple[list[CounterChange], list[tuple[str, Route, Route | None]]]:
    """What moved between two readings of the views (``section_readings`` by view key),
    ``seconds`` apart: the counters' changes and the routes added, removed or changed."""
    counters: list[CounterChange] = []
    routes: list[tuple[str, Route, Route | None]] = []
    for key, (values, shown) in after.items():
        old_values, old_shown = before[key]
        counters += counter_changes(key, old_values, values, seconds,
                                    from_zero=key == "statistics")
        routes += route_changes(old_shown, shown)
    return counters, routes


def section_readings(opts: Options, key: str, view: Any, snapshot: Any) -> Readings:
    """One section's counters (``-s`` narrowed to the groups ``-p`` selects) and, for ``-r``,
    its shown routes by ``route_keys``: what two readings are compared by."""
    values = view.counters(snapshot)
    if key == "statistics" and opts.protocol is not None:
        groups: set[str] = set()
        for section in view.selected_sections(opts):
            groups.update((section.group, section.type_group, *section.extra))
        values = {name: v for name, v in values.items() if name.partition(".")[0] in groups}
    shown: dict[str, Route] = {}
    if key == "routes":
        shown = route_keys([view.route_json(r) for family in (4, 6)
                            for r in view.shown_routes(snapshot, family, opts)])
    return values, shown


_DIGITS = str.maketrans("", "", "0123456789")
_QUIET = 60.0  # seconds a note must have been absent before it is said again


class Notes:
    """Notes on stderr when they change, not on every pass. A note is the same note when only its
    numbers changed ("3 sockets could not be attributed ..." -> "4 ..."), and under churn a note
    comes and goes from pass to pass (a socket no visible process holds, closed by the next
    pass): it is said again only after it has been absent for a minute."""

    def __init__(self, session: Session):
        self.session = session
        self.seen: dict[object, float] = {}  # note without its digits -> when it was last present

    def say(self, notes: Iterable[str]) -> None:
        self.say_keyed((note.translate(_DIGITS), note) for note in notes)

    def say_keyed(self, notes: Iterable[tuple[object, str]]) -> None:
        """``(kind, note)`` pairs: the note is said as ``say`` says it, the same note being one
        of the same kind (--all-netns: a namespace that cannot be read is its inode and why,
        whatever else the line says)."""
        now = self.session.env.monotonic()
        seen = self.seen
        for kind, note in notes:
            last = seen.get(kind)
            if last is None or now - last > _QUIET:
                self.session.say(note)
            seen[kind] = now
        for kind in [k for k, last in seen.items() if now - last > _QUIET]:
            del seen[kind]
