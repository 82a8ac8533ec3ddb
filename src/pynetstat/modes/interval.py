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
from contextlib import nullcontext, suppress
from itertools import count

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
    from typing import Any

    from pynetstat.env import Environment
    from pynetstat.formats import ConnectionChangeWriter, CounterChangeWriter, Format
    from pynetstat.linux.owner_cache import OwnerCache
    from pynetstat.model.changes import CounterChange, Route
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.modes.signals import HoldLine
    from pynetstat.options import Options


def run(opts: Options, env: Environment) -> int:
    """Display every ``opts.interval`` seconds until interrupted: 130 on Ctrl+C, 143 on SIGTERM.
    A closed stdout raises BrokenPipeError, which ``cli.main`` turns into a quiet 141."""
    session = Session(opts, env)
    try:
        return _run(session)
    finally:
        session.close()


def _run(session: Session) -> int:
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
                hold = HoldLine()
            _loop(session, fmt, log, hold)
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


def _loop(session: Session, fmt: Format, log: PassLog | None, hold: HoldLine | None = None
          ) -> None:
    opts, env = session.opts, session.env
    monitor = (SectionsMonitor if wanted(opts) else
               ProcessesMonitor if opts.processes else ConnectionsMonitor)(session, fmt)
    assert opts.interval is not None  # this mode runs only with an interval (cli.main)
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
        self.previous: Snapshot | None = None  # with --changes
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
        opts, env = session.opts, session.env
        measuring = self.measuring
        conns = collect(opts, env, session.netlink, self.owners)
        read: Iterator[SocketBatch] = iter(conns)
        if measuring is not None:
            read = measuring.batches(read)
        self.rows = 0
        if self.previous is None or not opts.changes:
            kept: list[SocketBatch] | None = [] if opts.changes else None
            head = {"type": "display", "timestamp": stamp, "pass": number, "host": session.host()}
            batches = session.in_order(self._counted(read, kept))
            self.fmt.write_connections(env.stdout, conns, batches, head)
            if kept is not None:
                self.previous = Snapshot(kept)
                self.writer = writer = self.fmt.connection_changes(env.stdout)
                writer.begin()
        else:
            current = Snapshot(list(self._counted(read, None)))
            changes = connection_changes(self.previous, current)
            self.previous = current
            if changes:
                if session.names is not None:
                    session.names.resolve_hosts(c.sock.remote_address for c in changes)
                assert self.writer is not None  # made with the first display, as previous was
                self.writer.write(changes, stamp, number)
        if measuring is not None:
            measuring.finish()
        self.notes.say(notes(conns))
        session.bound_caches()
        return {"rows": self.rows, "owners": self.owners.how if self.owners else None}

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


class SectionsMonitor:
    """-e, -s and -r, pass after pass."""

    def __init__(self, session: Session, fmt: Format):
        self.session = session
        self.fmt = fmt
        # with --changes: view key -> counters (and routes)
        self.before: dict[str, tuple[dict[str, int], dict[str, Route]]] | None = None
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
                seconds = taken - self.when
                counters: list[CounterChange] = []
                routes: list[tuple[str, Route, Route | None]] = []
                for key, (values, shown) in after.items():
                    old_values, old_shown = self.before[key]
                    counters += counter_changes(key, old_values, values, seconds,
                                                from_zero=key == "statistics")
                    routes += route_changes(old_shown, shown)
                if counters or routes:
                    assert self.writer is not None  # made with the first display, as before was
                    self.writer.write(counters, routes, stamp, number)
            self.before, self.when = after, taken
        self.notes.say(section_notes(sections))
        return {"rows": None, "owners": None}

    def _readings(self, key: str, view: Any, snapshot: Any
                  ) -> tuple[dict[str, int], dict[str, Route]]:
        return section_readings(self.session.opts, key, view, snapshot)


def section_readings(opts: Options, key: str, view: Any, snapshot: Any
                     ) -> tuple[dict[str, int], dict[str, Route]]:
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
        self.seen: dict[str, float] = {}  # note without its digits -> when it was last present

    def say(self, notes: Iterable[str]) -> None:
        now = self.session.env.monotonic()
        seen = self.seen
        for note in notes:
            kind = note.translate(_DIGITS)
            last = seen.get(kind)
            if last is None or now - last > _QUIET:
                self.session.say(note)
            seen[kind] = now
        for kind in [k for k, last in seen.items() if now - last > _QUIET]:
            del seen[kind]
