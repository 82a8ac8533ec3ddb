"""The live view's rows in the order shown: the board's rows sorted by a column, or as they came.
Pure: no Textual, no kernel. The table widget (grid.py) draws only the lines in view from the
list this makes, so a reading of 200k sockets costs the UI thread a list swap, not 200k widget
rows.

The collector thread arranges each reading with the sort chosen when it was read; the UI thread
arranges again only when a sort key is pressed (or the sort changed while a reading was on its
way). A sort key of each cell text is kept per column (``Order.memo``): most cells are the same
from one reading to the next, so a later sort computes keys only for the new ones.

    >>> natural("127.0.0.1:8080") < natural("127.0.0.10:22")
    True
    >>> quantity("-") < quantity("0.0") < quantity("12.5")
    True
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, Protocol

    class Shown(Protocol):
        """What the order and the table read of a row (board.Row has it)."""

        cells: tuple[str, ...]

_NUMBER = re.compile(r"(\d+)")
# Memoised sort keys kept per column: past this many, the memo starts over (the cells of a
# board of 200k rows stay well under it; a host whose sockets all churn must not grow it for ever).
MEMO_LIMIT = 1 << 20


def natural(cell: str) -> tuple[int | str, ...]:
    """Sort key of a cell: numbers in it compare as numbers (ports, PIDs, addresses' bytes). The
    split alternates text and digits, so two keys compare position by position, text with text."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(cell))


def quantity(cell: str) -> tuple[int, float]:
    """Sort key of a measured cell (a rate, an RTT): its value; ``-`` (not known) below all."""
    try:
        return (1, float(cell))
    except ValueError:
        return (0, 0.0)


class Order:
    """Arranges rows by one of ``titles``'s columns; those in ``measured`` sort as quantities,
    the others naturally. ``column`` counts the row's cells (no mark column)."""

    def __init__(self, titles: Sequence[str], measured: Iterable[str] = ()):
        kinds = frozenset(measured)
        self.keys: list[Callable[[str], Any]] = [quantity if title in kinds else natural
                                                 for title in titles]
        self.memo: list[dict[str, Any]] = [{} for _ in titles]

    def arrange(self, rows: Iterable[Shown], column: int | None,
                reverse: bool = False) -> list[Any]:
        """``rows`` as a new list: as they came (no column), else sorted by ``column`` (stable:
        equal cells keep the order they came in); ``reverse``: that list backwards, so that
        turning a sort round is reversing the list shown (``flip``)."""
        if column is None or column >= len(self.keys):
            return list(rows)
        memo, compute = self.memo[column], self.keys[column]
        if len(memo) > MEMO_LIMIT:
            memo.clear()
        get = memo.get

        def key(row: Shown) -> Any:
            cell = row.cells[column]
            found = get(cell)
            if found is None:
                found = memo[cell] = compute(cell)
            return found
        ordered = sorted(rows, key=key)
        if reverse:
            ordered.reverse()
        return ordered
