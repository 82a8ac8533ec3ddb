"""The live view's screens other than the connection table (``v``): the counters of ``-s`` and
``-e`` (rates.CounterRow: value, rate per second, sparkline) and the routes of ``-r``
(views/routes.route_rows), routes that came or went marked as the connection table marks
sockets (board.Lines; the same table widget, grid.Grid). Each is a table of escaped text
(never markup) sortable by a column; the app hands it each reading the collector thread made.

Textual, like app.py: imported only by app.py, after modes/live checked for it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from pynetstat.modes.live import order
from pynetstat.modes.live.board import MARKS
from pynetstat.modes.live.grid import Grid
from pynetstat.modes.live.rates import COUNTER_COLUMNS
from pynetstat.textsafe import width
from pynetstat.views.routes import ROW_COLUMNS as ROUTE_COLUMNS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.modes.live.board import Line
    from pynetstat.modes.live.rates import CounterRow


def natural(cell: Text) -> tuple[int | str, ...]:
    """Sort key of a cell: numbers in it compare as numbers (order.natural)."""
    return order.natural(cell.plain)


def quantity(cell: Text) -> tuple[int, float]:
    """Sort key of a measured cell: its value, ``-`` below all (order.quantity)."""
    return order.quantity(cell.plain)


class Sorting:
    """A screen's sort: by ``sort_column`` (None: as read), ``sort_reverse`` the other way."""

    titles: tuple[str, ...]
    sort_column: int | None = None
    sort_reverse = False
    count = 0  # rows of the last reading

    def sort_by(self, column: int) -> None:
        """Sort by ``column``; again: the other way."""
        if column >= len(self.titles):
            return
        if self.sort_column == column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self.resort()

    def resort(self) -> None:
        raise NotImplementedError


class Sheet(Sorting, DataTable[Text]):
    """One screen's table: ``titles`` its columns, ``measured`` those that sort as values."""

    def __init__(self, name: str, titles: tuple[str, ...], measured: frozenset[str]):
        super().__init__(id=name, cursor_type="row", classes="hidden")
        self.titles = titles
        self.measured = measured

    def on_mount(self) -> None:
        for i, title in enumerate(self.titles):
            self.add_column(title, key=f"c{i}")

    def resort(self) -> None:
        column = self.sort_column
        if column is not None:
            key = quantity if self.titles[column] in self.measured else natural
            self.sort(f"c{column}", key=key, reverse=self.sort_reverse)


class CounterSheet(Sheet):
    """The counters screen: a row per counter, keyed by view and name, its cells updated where
    they changed."""

    def __init__(self) -> None:
        super().__init__("counters", COUNTER_COLUMNS, frozenset({"Value", "Rate/s"}))
        self.shown: dict[str, tuple[str, ...]] = {}  # row key -> its cells

    def show(self, rows: list[CounterRow]) -> None:
        shown: dict[str, tuple[str, ...]] = {}
        for counter in rows:
            key, cells = f"{counter.view}:{counter.name}", counter.cells()
            shown[key] = cells
            old = self.shown.get(key)
            if old is None or key not in self.rows:
                self.add_row(*map(Text, cells), key=key)
            elif old != cells:
                for i, (was, cell) in enumerate(zip(old, cells)):
                    if was != cell:
                        self.update_cell(key, f"c{i}", Text(cell))
        for key in self.shown.keys() - shown.keys():
            if key in self.rows:
                self.remove_row(key)
        self.shown, self.count = shown, len(shown)
        self.resort()


class RouteSheet(Sorting, Grid):
    """The routes screen: a row per route and next hop, one that came green and one that went
    red for a few seconds (board.Lines, on the collector thread), sortable as the other screens;
    the marks' column first, as on the connection table."""

    def __init__(self) -> None:
        super().__init__(ROUTE_COLUMNS, MARKS, id="routes", classes="hidden")
        self.order = order.Order(ROUTE_COLUMNS, ("Metric",))
        self.lines: list[Line] = []

    def show_lines(self, lines: list[Line]) -> None:
        self.lines = lines
        self.count = sum(line.mark != "removed" for line in lines)
        self.resort()

    def resort(self) -> None:
        widths = [max(map(width, column)) for column in zip(*(line.cells for line in self.lines))]
        self.show(self.order.arrange(self.lines, self.sort_column, self.sort_reverse), widths)
