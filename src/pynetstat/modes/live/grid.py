"""The live view's connection table as a Textual Line API widget: it draws only the lines in view.

Textual's DataTable keeps a widget row per table row: adding 200k rows on the first reading took
the UI thread seconds, and every later edit and sort went through it. ``Grid`` holds no row of
its own: it is handed the rows in the order shown (order.Order, arranged on the collector thread)
and the column widths (board.Board, grown as rows come), and ``render_line`` makes the strip of
one line on screen from them, so a reading costs the UI thread a list swap and a redraw of the
lines in view, whatever the number of sockets (bench/live_cost.py).

It does what the DataTable did for the view: a header of titles (a click on one: ``Sorted``),
a row cursor (up, down, page up and down, home, end, a click; it stays on its socket when the
rows move), Enter or a click on the cursor's row (``Chosen``), the colour of each row's mark,
and scrolling both ways. Cells are drawn as the escaped text they are (textsafe): never parsed
as markup. Colours pass through Textual's NO_COLOR filter as every strip does.

Textual, like app.py: imported only by app.py, after modes/live checked for it.
"""

from __future__ import annotations

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pynetstat.textsafe import width

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping, Sequence
    from typing import Protocol

    from textual import events

    class GridRow(Protocol):
        """What the table reads of a row (board.Row has it)."""

        key: Hashable
        cells: tuple[str, ...]
        mark: str


PAD = 2  # a space either side of each cell, as the DataTable drew them (the mark in column 1)


class Grid(ScrollView, can_focus=True):
    """A table of ``titles`` whose first column is each row's mark (``marks``: a row's mark ->
    the character shown and its colour)."""

    COMPONENT_CLASSES = {"grid--header", "grid--cursor"}
    DEFAULT_CSS = """
    Grid { background: $surface; color: $foreground; }
    Grid > .grid--header { text-style: bold; background: $panel; color: $foreground; }
    Grid > .grid--cursor { background: $block-cursor-blurred-background;
                           color: $block-cursor-blurred-foreground; }
    Grid:focus > .grid--cursor { background: $block-cursor-background;
                                 color: $block-cursor-foreground;
                                 text-style: $block-cursor-text-style; }
    """
    BINDINGS = [
        Binding("enter", "choose", "detail", show=False),
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "cursor_to(0)", show=False),
        Binding("end", "cursor_to(-1)", show=False),
        Binding("left", "scroll_left", show=False),
        Binding("right", "scroll_right", show=False),
    ]

    class Sorted(Message):
        """A click on the heading of ``column`` (counted from the first cell, not the mark)."""

        def __init__(self, grid: Grid, column: int):
            super().__init__()
            self.grid = grid
            self.column = column

    class Chosen(Message):
        """Enter, or a click on the cursor's row: ``row``."""

        def __init__(self, grid: Grid, row: GridRow):
            super().__init__()
            self.grid = grid
            self.row = row

    def __init__(self, titles: Sequence[str], marks: Mapping[str, tuple[str, str]], *,
                 id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.titles = tuple(titles)
        self.marks = marks
        self.rows: Sequence[GridRow] = ()
        self.cursor = 0
        self.widths = [1, *(width(title) for title in titles)]
        self._styles: dict[str, Style] = {}  # a mark -> its colour

    # --- what the app hands it and reads back -------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.rows)

    def show(self, rows: Sequence[GridRow], widths: Sequence[int] = (),
             near: int | None = None) -> None:
        """Draw ``rows`` from now on, in this order; ``widths``: the widest cell of each column
        (the columns only grow). The cursor stays on its row's key where that row still is
        (looked for at ``near`` first, where the caller knows it went: else where it was)."""
        old = self.rows
        key = old[self.cursor].key if self.cursor < len(old) else None
        self.rows = rows
        for i, cells in enumerate(widths, 1):
            if i < len(self.widths) and cells > self.widths[i]:
                self.widths[i] = cells
        if key is not None:
            self.cursor = self._index(key, self.cursor if near is None else near)
        self.cursor = max(0, min(self.cursor, len(rows) - 1))
        self.virtual_size = Size(sum(self.widths) + PAD * len(self.widths), len(rows) + 1)
        self.refresh()

    def _index(self, key: Hashable, near: int) -> int:
        """Where the row ``key`` is now (``near`` if it is there still, else searched), or
        ``near`` if it left."""
        rows = self.rows
        if near < len(rows) and rows[near].key == key:
            return near
        for i, row in enumerate(rows):
            if row.key == key:
                return i
        return near

    def selected(self) -> GridRow | None:
        """The cursor's row, if any."""
        return self.rows[self.cursor] if self.cursor < len(self.rows) else None

    def get_row_at(self, index: int) -> list[Text]:
        """Row ``index``'s cells as they are drawn (each a Text with the row's colour)."""
        return [Text(text, style=style) for text, style in self._cells(self.rows[index])]

    def _cells(self, row: GridRow) -> list[tuple[str, str]]:
        char, colour = self.marks[row.mark]
        return [(char, colour), *((cell, colour) for cell in row.cells)]

    # --- drawing -----------------------------------------------------------------------------
    def _style(self, colour: str) -> Style:
        style = self._styles.get(colour)
        if style is None:
            style = self._styles[colour] = Style.parse(colour) if colour else Style()
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("grid--header")
            texts = [("", style), *((title, style) for title in self.titles)]
        else:
            index = scroll_y + y - 1
            if index >= len(self.rows):
                return Strip.blank(width, base)
            row = self.rows[index]
            char, colour = self.marks[row.mark]
            style = base + self._style(colour)
            if index == self.cursor:
                style += self.get_component_rich_style("grid--cursor")
            texts = [(char, style), *((cell, style) for cell in row.cells)]
        segments = [Segment(f" {set_cell_size(text, cells)} ", style)
                    for (text, style), cells in zip(texts, self.widths)]
        total = sum(self.widths) + PAD * len(self.widths)
        return Strip(segments, total).crop_extend(scroll_x, scroll_x + width, style)

    # --- the cursor --------------------------------------------------------------------------
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # the lines under the header

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and scroll it into view."""
        before = self.cursor
        self.cursor = max(0, min(index, len(self.rows) - 1))
        top, page = round(self.scroll_y), self._page()
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + page:
            self.scroll_to(y=self.cursor - page + 1, animate=False, immediate=True)
        if self.cursor != before:
            self.refresh()

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, pages: int) -> None:
        self.move_cursor(self.cursor + pages * self._page())

    def action_cursor_to(self, index: int) -> None:
        self.move_cursor(index if index >= 0 else len(self.rows) - 1)

    def action_choose(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(self.Chosen(self, row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x, edge = offset.x + round(self.scroll_x), 0
            for column, cells in enumerate(self.widths):
                edge += cells + PAD
                if x < edge:
                    if column:
                        self.post_message(self.Sorted(self, column - 1))
                    return
            return
        index = round(self.scroll_y) + offset.y - 1
        if index < len(self.rows):
            if index == self.cursor:
                self.action_choose()
            else:
                self.move_cursor(index)
            event.stop()
