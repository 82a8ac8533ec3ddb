"""The live view's Textual app: the table, the filter box, the detail panel, the close dialog.

Only this module and sheets.py (the counters and routes screens) import Textual (the ``live``
extra). The collector thread reads the kernel on interval mode's ``Schedule`` and hands each
``Delta``, its rows already in the order shown (order.Order), or the other screens' rows, to the
UI thread, which only hands them to the tables: the UI never waits on the kernel, and the
connection table (grid.Grid) draws only the lines in view. Every cell is escaped text
(textsafe), never markup: a process called ``[red]x`` shows as such.

Keys: 1-6 (1-9 with --info) sort by a column (again: reverse; a header click too), / the
filter box, p pause, + and - the interval, Enter the detail panel, c close the connection (asks
first), v the next screen (the counters of -s and -e, the routes of -r, back to the table),
r refresh now, q or Ctrl+C quit. SIGTERM quits too. Colours follow Textual's NO_COLOR handling; the mark
column (+ new, - closed, ~ changed) says the same without colour.
"""

from __future__ import annotations

import threading
import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

from pynetstat.errors import Exit, PynetstatError
from pynetstat.modes.interval import PassLog, Schedule
from pynetstat.modes.live.board import MARKS
from pynetstat.modes.live.collector import SCREENS
from pynetstat.modes.live.detail import describe, detail_lines
from pynetstat.modes.live.grid import Grid
from pynetstat.modes.live.order import Order
from pynetstat.modes.live.rates import INFO_COLUMNS
from pynetstat.modes.live.sheets import CounterSheet, RouteSheet

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Sequence

    from textual import events

    from pynetstat.modes.live.board import Delta, Line, Row
    from pynetstat.modes.live.collector import Collector
    from pynetstat.modes.live.grid import GridRow
    from pynetstat.modes.live.rates import CounterRow

MIN_INTERVAL, MAX_INTERVAL = 0.25, 60.0
# A sort key sorts this many rows at once on the UI thread (about 10 ms on a loaded host); more go
# to a thread of their own (200k rows: about half a second), so that keys go on answering. Turning
# a sort round reverses the list shown, at once whatever its length.
SORT_AT_ONCE = 5000
SORT_KEYS = 9  # 1-9: the columns (6, 9 with --info's Send/s, Recv/s, RTT ms)


class Detail(ModalScreen[None]):
    """Enter on a row: what holds the connection. Escape, Enter or q closes it."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "back")]

    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(Text("\n".join(self.lines)), id="detail-text")


class Confirm(ModalScreen[bool]):
    """The close key's question, naming the connection and its process: y closes, else not."""

    BINDINGS = [Binding("y", "answer(True)", "yes"), Binding("n,escape,q", "answer(False)", "no")]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(Text(self.question + "\n\n[y] close it   [n] keep it"), id="question")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class LiveApp(App[None]):
    CSS = """
    #filter { display: none; }
    #filter.shown { display: block; }
    #table, #counters, #routes { height: 1fr; }
    .hidden { display: none; }
    #status { height: 1; background: $panel; }
    #detail { width: 90%; height: 80%; border: round $accent; background: $surface; }
    Detail, Confirm { align: center middle; }
    #confirm { width: 80; height: auto; border: round $error; background: $surface;
               padding: 1 2; }
    """
    BINDINGS = [
        Binding("q", "quit_live(0)", "quit"),
        Binding("ctrl+c", "quit_live(130)", "quit", show=False, priority=True),
        Binding("slash", "filter", "filter"),
        Binding("p,space", "pause", "pause"),
        Binding("plus", "interval(0.5)", "faster"),
        Binding("minus", "interval(2)", "slower"),
        Binding("c,delete", "close_connection", "close"),
        Binding("r", "refresh_now", "refresh", show=False),
        Binding("v", "next_screen", "screen"),
        *(Binding(str(i + 1), f"sort({i})", show=False) for i in range(SORT_KEYS)),
    ]
    TITLE = "pynetstat --live"

    def __init__(self, collector: Collector, interval: float, hold: float | None = None):
        super().__init__()
        self.collector = collector
        self.columns = collector.columns
        # the rows in the order shown, sorted by (column, reversed) or as they came
        self.order = Order(self.columns, INFO_COLUMNS)
        self.interval = interval
        self.paused = False
        self.sort_column: int | None = None
        self.sort_reverse = False
        self.table_sort: tuple[int | None, bool] = (None, False)  # the order the table shows
        # the other screens (v): which is shown, and each one's sort (column, reversed)
        self.screen_name = collector.start
        self.counter_sheet, self.route_sheet = CounterSheet(), RouteSheet()
        self.sheets: dict[str, CounterSheet | RouteSheet] = {"counters": self.counter_sheet,
                                                             "routes": self.route_sheet}
        self.rows: dict[Hashable, Row] = {}  # the board as of the last delta
        self.message = ""
        self.status = Exit.OK
        self.readings = 0
        self.stopping = threading.Event()
        self.wake = threading.Event()
        if hold is not None:
            collector.board.hold = collector.routes.hold = hold
        # seconds (wall, CPU) the last reading's edit of the table took (UI thread)
        self.applied = self.applied_cpu = 0.0
        # PYNETSTAT_PASS_TIMES=FILE: a JSON line per reading, as interval mode writes (bench/)
        self.pass_log = PassLog.from_environ(collector.session.env.environ)

    # --- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Input(placeholder="--lport 443 --state established --process 'ssh*'  "
                    "(Enter: apply, empty: none, Escape: back)", id="filter")
        yield Grid(self.columns, MARKS, id="table")
        yield self.counter_sheet
        yield self.route_sheet
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        # Kept: a query asks the screen on top, which is a modal while the detail panel or the
        # close question is open, and the readings go on meanwhile.
        self.table = self.query_one("#table", Grid)
        self.status_bar = self.query_one("#status", Static)
        self.box = self.query_one(Input)
        self._show_screen(self.screen_name)
        self._handle_sigterm()
        self._in_thread(self.collect_loop)
        self.show_status()

    def on_unmount(self) -> None:
        self.stopping.set()  # however the app ends, the collector thread ends with it
        self.wake.set()

    def _handle_sigterm(self) -> None:
        import asyncio
        import signal

        try:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, lambda: self.action_quit_live(Exit.TERMINATED))
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (an embedding caller): SIGTERM is left alone

    # --- the collector thread ----------------------------------------------------------------
    def collect_loop(self) -> None:
        schedule = Schedule(self.interval, time.monotonic, self._sleep)
        log = self.pass_log
        last = self.screen_name
        while not self.stopping.is_set():
            started = schedule.begin()
            cpu = time.thread_time()
            shown = self.screen_name
            if shown != last:
                self.collector.shown(shown)
                last = shown
            if not self.paused and shown != "connections":
                try:
                    if shown == "counters":
                        self._to_ui(self.apply_counters, self.collector.read_counters())
                    else:
                        self._to_ui(self.apply_routes,
                                    self.collector.read_routes(time.monotonic()))
                except PynetstatError as e:
                    self._to_ui(self.say, str(e))
            elif not self.paused:
                try:
                    delta = self.collector.read(time.monotonic())
                except PynetstatError as e:
                    self._to_ui(self.say, str(e))
                else:
                    sort = self.sort
                    ordered = self.order.arrange(delta.rows.values(), *sort)
                    read, cpu = time.monotonic() - started, time.thread_time() - cpu
                    self._to_ui(self.apply, delta, ordered, sort)
                    # the reading and its order, then the UI thread's hand-over to the table
                    # (call_from_thread waited for it)
                    if log is not None:
                        log.write({"pass": self.readings, "seconds": round(read, 6),
                                   "cpu": round(cpu, 6), "apply": round(self.applied, 6),
                                   "apply_cpu": round(self.applied_cpu, 6),
                                   "rows": len(delta.rows), "skipped": schedule.skipped})
            if self.stopping.is_set():
                return
            schedule.interval = self.interval
            schedule.pause()
            if self.wake.is_set():  # woken early (filter, close, resume): the next is due now
                self.wake.clear()
                schedule.due = None

    @staticmethod
    def _in_thread(target: Callable[..., None], *args: object) -> None:
        """Run ``target`` on a daemon thread of its own, not a Textual worker: the app waits
        for its workers when it quits, and a reading or a close can take seconds (the first
        reading at 20k sockets on a busy host: 20 s); q must not wait for it. What such a
        thread hands to the UI after the app ended is dropped (``_to_ui``)."""
        threading.Thread(target=target, args=args, daemon=True,
                         name=f"pynetstat-live-{target.__name__}").start()

    def _sleep(self, seconds: float) -> None:
        self.wake.wait(seconds)

    def _to_ui(self, callback: Callable[..., object], *args: object) -> None:
        if self.stopping.is_set():
            return
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:  # the app has stopped meanwhile
            self.stopping.set()

    # --- the table ---------------------------------------------------------------------------
    @property
    def sort(self) -> tuple[int | None, bool]:
        """The connection table's sort: (column or None, reversed)."""
        return self.sort_column, self.sort_reverse

    def apply(self, delta: Delta, ordered: list[Row], sort: tuple[int | None, bool]) -> None:
        """A reading, its rows in the order of ``sort``: the table draws them from now on."""
        started, cpu = time.monotonic(), time.thread_time()
        try:
            self.readings += 1
            self.rows = delta.rows
            self.table.show(ordered, delta.widths)
            self.table_sort = sort
            if sort != self.sort:  # a sort key was pressed while the reading was on its way
                self._sort()
            self.show_status()
        finally:
            self.applied = time.monotonic() - started
            self.applied_cpu = time.thread_time() - cpu

    def _sort(self) -> None:
        """The table in the order of ``self.sort``: the list shown reversed if only the way
        changed, else arranged anew (on a thread past SORT_AT_ONCE rows)."""
        rows, sort = self.rows, self.sort
        table = self.table
        if self.table_sort == (sort[0], not sort[1]):
            self._show_order(rows, list(reversed(table.rows)), sort,
                             table.row_count - 1 - table.cursor)
        elif len(rows) <= SORT_AT_ONCE:
            self._show_order(rows, self.order.arrange(rows.values(), *sort), sort)
        else:
            self._in_thread(self._arrange, rows, sort)

    def _arrange(self, rows: dict[Hashable, Row], sort: tuple[int | None, bool]) -> None:
        self._to_ui(self._show_order, rows, self.order.arrange(rows.values(), *sort), sort)

    def _show_order(self, rows: dict[Hashable, Row], ordered: Sequence[GridRow],
                    sort: tuple[int | None, bool], near: int | None = None) -> None:
        if rows is self.rows and sort == self.sort:  # else a newer reading or sort came since
            self.table.show(ordered, near=near)
            self.table_sort = sort

    # --- the other screens: counters (-s, -e) and routes (-r) --------------------------------
    def apply_counters(self, rows: list[CounterRow]) -> None:
        self.counter_sheet.show(rows)
        self.readings += 1
        self.show_status()

    def apply_routes(self, lines: list[Line]) -> None:
        self.route_sheet.show_lines(lines)
        self.readings += 1
        self.show_status()

    def _show_screen(self, name: str) -> None:
        self.screen_name = name
        self.table.set_class(name != "connections", "hidden")
        for sheet_name, sheet in self.sheets.items():
            sheet.set_class(sheet_name != name, "hidden")
        (self.table if name == "connections" else self.sheets[name]).focus()
        self.show_status()

    def action_next_screen(self) -> None:
        """v: the connection table, then the counters, then the routes, and round again."""
        if self.box.has_focus:
            return
        self._show_screen(SCREENS[(SCREENS.index(self.screen_name) + 1) % len(SCREENS)])
        self.message = ""
        self.wake.set()

    def show_status(self) -> None:
        name = self.screen_name
        if name == "connections":
            parts = [f"{len(self.rows)} sockets"]
            column, reverse = self.sort_column, self.sort_reverse
            titles = self.columns
        else:
            sheet = self.sheets[name]
            parts = [f"{sheet.count} {name}"]
            column, reverse, titles = sheet.sort_column, sheet.sort_reverse, sheet.titles
        parts.append(f"every {self.interval:g} s")
        if self.paused:
            parts.append("PAUSED")
        if column is not None:
            parts.append(f"sort: {titles[column]}"
                         f" {'descending' if reverse else 'ascending'}")
        box = self.collector.box
        if box:
            parts.append("filter: " + self.box.value)
        if self.collector.notes:
            parts.append(self.collector.notes[0])
        if self.message:
            parts.append(self.message)
        self.status_bar.update(Text(" | ".join(parts)))

    def say(self, message: str) -> None:
        self.message = message
        self.show_status()

    def selected(self) -> Row | None:
        """The board's row under the table's cursor."""
        shown = self.table.selected()
        return None if shown is None else self.rows.get(shown.key)

    # --- actions -----------------------------------------------------------------------------
    def action_sort(self, column: int) -> None:
        name = self.screen_name
        if name != "connections":
            self.sheets[name].sort_by(column)
            self.show_status()
            return
        if column >= len(self.columns):
            return
        if self.sort_column == column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._sort()
        self.show_status()

    def on_grid_sorted(self, event: Grid.Sorted) -> None:
        self.action_sort(event.column)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.data_table.id in self.sheets and event.column_key.value:
            self.action_sort(int(event.column_key.value[1:]))

    def action_filter(self) -> None:
        if self.screen_name != "connections":
            return
        box = self.box
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from pynetstat.select import parse_words

        text = event.value.strip()
        try:
            box = parse_words(text) if text else None
        except PynetstatError as e:
            self.say(str(e))
            return
        self.message = ""
        self.collector.set_filter(box)
        self.rows = {}
        self.table.show([])
        self.table_sort = (None, False)
        if box is None:
            event.input.remove_class("shown")
        self.table.focus()
        self.action_refresh_now()

    def on_key(self, event: events.Key) -> None:
        box = self.box
        if event.key == "escape" and box.has_focus:
            if not box.value.strip():
                box.remove_class("shown")
            self.table.focus()
            event.stop()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.wake.set()
        self.show_status()

    def action_interval(self, factor: float) -> None:
        self.interval = min(MAX_INTERVAL, max(MIN_INTERVAL, self.interval * factor))
        self.wake.set()
        self.show_status()

    def action_refresh_now(self) -> None:
        self.wake.set()

    def on_grid_chosen(self, event: Grid.Chosen) -> None:
        if event.grid is not self.table:
            return  # a route: nothing more to show
        row = self.rows.get(event.row.key)
        if row is not None:
            self._in_thread(self.open_detail, row, self.rows)

    def open_detail(self, row: Row, rows: dict[Hashable, Row]) -> None:
        """Read the processes and ask the kernel about the socket off the UI thread, then show."""
        import pwd

        from pynetstat.linux.process import read_process
        from pynetstat.linux.procfs import ProcFS

        procfs = ProcFS(self.collector.session.env.proc_root)
        processes = [read_process(procfs, pid, ancestry=True) for pid in sorted(set(row.pids))]
        try:
            message = self.collector.socket_detail(row.sock)
        except PynetstatError as e:
            message = None
            self._to_ui(self.say, str(e))
        lines = detail_lines(row, processes, rows.values(), pwd.getpwuid, message)
        self._to_ui(self.push_screen, Detail(lines))

    def action_close_connection(self) -> None:
        if self.screen_name != "connections":
            return
        row = self.selected()
        if row is None:
            return
        if row.sock.proto != "tcp":
            self.say("only TCP connections can be closed")
            return
        if row.mark == "removed":
            self.say("that connection has closed already")
            return
        held = f"held by {row.cells[5]} ({row.cells[4]})" if row.owners else "held by no visible process"
        if "Namespace" in self.columns:  # --all-netns
            held += f", in network namespace {row.cells[self.columns.index('Namespace')]}"
        question = f"Close this connection?\n\n  {describe(row.cells)}\n  {held}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._in_thread(self.close_row, row)
        self.push_screen(Confirm(question), answered)

    def close_row(self, row: Row) -> None:
        try:
            result = self.collector.close(row.sock)
        except PynetstatError as e:
            self._to_ui(self.say, str(e))
            return
        text = "closed" if result == "closed" else "had closed already"
        self._to_ui(self.say, f"{describe(row.cells)}: {text}")
        self.wake.set()

    def action_quit_live(self, status: int) -> None:
        self.status = status
        self.stopping.set()
        self.wake.set()
        self.exit(return_code=status)
