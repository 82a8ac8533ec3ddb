"""The live view's rows between two readings: which appeared, closed or changed state, and for how
long each keeps its mark. Pure: no Textual, no kernel; the collector thread feeds it readings
(model/changes.Snapshot) and hands the resulting ``Delta`` to the UI thread.

Rows are keyed by the socket's cookie (model/changes.socket_keys), which a socket keeps through
close() and TIME_WAIT. A new row is marked ``added`` and a row whose state moved ``state`` for
``hold`` seconds; a row that closed stays on the board, marked ``removed``, for ``hold`` seconds,
then leaves. The first reading (and the first after the filter changed) marks nothing.
"""

from __future__ import annotations

from pynetstat.model.changes import connection_changes
from pynetstat.textsafe import width

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Mapping

    from pynetstat.model.changes import Snapshot
    from pynetstat.model.sockets import InetSocket, Owner

HOLD = 3.0  # seconds a mark stays (TCPView's default is about 2 s; a little more over SSH)
COLUMNS = ("Proto", "Local Address", "Foreign Address", "State", "PID", "Process")
# mark -> the character in the first column (so that NO_COLOR still shows it) and its colour
MARKS = {"": (" ", ""), "added": ("+", "green"), "removed": ("-", "red"), "state": ("~", "yellow")}


def sock_key(sock: InetSocket) -> Hashable:
    """The key ``socket_keys`` gives this socket in its batch: the cookie, else its identity."""
    return sock.cookie if sock.cookie is not None else sock.identity


class Row:
    """One socket on the board: its record, owners, the cells shown (escaped text), its mark and
    until when the mark lasts (monotonic seconds)."""

    __slots__ = ("key", "sock", "owners", "cells", "mark", "until")

    def __init__(self, key: Hashable, sock: InetSocket, owners: tuple[Owner, ...], cells: tuple[str, ...],
                 mark: str = "", until: float = 0.0):
        self.key = key
        self.sock = sock
        self.owners = owners
        self.cells = cells
        self.mark = mark
        self.until = until

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(owner.pid for owner in self.owners)

    def __repr__(self) -> str:
        return f"Row({self.mark or 'steady'}, {self.cells})"


class Delta:
    """What a reading changed: ``reset`` (start over with ``added``), rows added, rows whose
    cells or mark changed, keys dropped; ``rows``: a copy of the board after it (the UI thread
    reads it for the table and the detail panel while the collector goes on); ``widths``: the
    widest cell of each column since the reset (terminal columns, textsafe.width)."""

    __slots__ = ("reset", "added", "changed", "removed", "rows", "widths")

    def __init__(self, reset: bool, added: list[Row], changed: list[Row], removed: list[Hashable],
                 rows: dict[Hashable, Row], widths: tuple[int, ...] = ()):
        self.reset = reset
        self.added = added
        self.changed = changed
        self.removed = removed
        self.rows = rows
        self.widths = widths

    def __repr__(self) -> str:
        return (f"Delta(reset={self.reset}, added={len(self.added)}, changed={len(self.changed)}, "
                f"removed={len(self.removed)})")


class Board:
    """The rows, reading after reading. ``cells(sock, owners)`` makes a row's shown text; with
    ``extra`` columns (``--info``'s rates), each reading gives those cells by key, and a row
    whose extra cells changed is a changed row (its mark kept); ``blank``: the extra cells of a
    row the reading gave none for."""

    def __init__(self, cells: Callable[[InetSocket, tuple[Owner, ...]], tuple[str, ...]],
                 hold: float = HOLD, blank: tuple[str, ...] = ()):
        self.cells = cells
        self.hold = hold
        self.blank = blank
        self.rows: dict[Hashable, Row] = {}
        self.previous: Snapshot | None = None
        # the widest cell of each column since the last reset: the table's column widths grow
        # with the rows that came, as a listing's do, and are never measured over every row again
        self.widths: list[int] = []

    def reset(self) -> None:
        """The next reading starts over (the filter changed): no marks."""
        self.previous = None

    def update(self, snapshot: Snapshot, now: float,
               extra: Mapping[Hashable, tuple[str, ...]] | None = None) -> Delta:
        rows, base, blank = self.rows, self.cells, self.blank
        extra = extra or {}

        def cells(key: Hashable, sock: InetSocket, owners: tuple[Owner, ...]) -> tuple[str, ...]:
            return base(sock, owners) + extra.get(key, blank) if blank else base(sock, owners)

        if self.previous is None:
            self.previous = snapshot
            self.rows = rows = {}
            for batch, keys in zip(snapshot.batches, snapshot.keys):
                for key, (sock, owners) in zip(keys, batch.rows()):
                    rows[key] = Row(key, sock, owners, cells(key, sock, owners))
            self.widths = []
            self._widen(rows.values())
            return Delta(True, list(rows.values()), [], [], dict(rows), tuple(self.widths))
        added, changed, removed = [], [], []
        # marks that ran out: a closed row leaves, another loses its colour
        for key, row in list(rows.items()):
            if row.mark and row.until <= now:
                if row.mark == "removed":
                    del rows[key]
                    removed.append(key)
                else:
                    row.mark = ""
                    changed.append(row)
        until = now + self.hold
        for change in connection_changes(self.previous, snapshot):
            key = sock_key(change.sock)
            known = rows.get(key)
            if change.kind == "removed":
                if known is not None and known.mark != "removed":
                    known.mark, known.until = "removed", until
                    changed.append(known)
            elif change.kind == "added" or known is None:
                new = rows[key] = Row(key, change.sock, change.owners,
                                      cells(key, change.sock, change.owners), "added", until)
                added.append(new)
            else:
                known.sock, known.owners = change.sock, change.owners or known.owners
                known.cells = cells(key, known.sock, known.owners)
                known.mark, known.until = "state", until
                changed.append(known)
        if blank:
            self._refresh_extra(extra, changed)
        self.previous = snapshot
        self._widen(added)
        self._widen(changed)
        return Delta(False, added, changed, removed, dict(rows), tuple(self.widths))

    def _widen(self, rows: Iterable[Row]) -> None:
        """The column widths, grown to hold ``rows``'s cells (one pass per column)."""
        widths = self.widths
        for i, column in enumerate(zip(*(row.cells for row in rows))):
            widest = max(map(width, column))
            if i == len(widths):
                widths.append(widest)
            elif widest > widths[i]:
                widths[i] = widest

    def _refresh_extra(self, extra: Mapping[Hashable, tuple[str, ...]], changed: list[Row]) -> None:
        """Rows still open whose extra cells moved since the last reading join ``changed``."""
        width = len(self.blank)
        listed = {id(row) for row in changed}
        for key, row in self.rows.items():
            if row.mark == "removed":
                continue  # a closed row keeps its last values
            new = extra.get(key, self.blank)
            if row.cells[-width:] != new:
                row.cells = row.cells[:-width] + new
                if id(row) not in listed:
                    changed.append(row)


class Line:
    """A row of another screen (a route and next hop): its cells, which are its key, its mark
    and until when the mark lasts."""

    __slots__ = ("key", "cells", "mark", "until")

    def __init__(self, cells: tuple[str, ...], mark: str = "", until: float = 0.0):
        self.key = cells
        self.cells = cells
        self.mark = mark
        self.until = until

    def __repr__(self) -> str:
        return f"Line({self.mark or 'steady'}, {self.cells})"


class Lines:
    """The routes screen's rows, reading after reading, marked as the board marks sockets: a row
    that was not in the reading before is ``added`` for ``hold`` seconds; a row that went stays,
    ``removed``, for ``hold`` seconds where it was, then leaves. A row is its cells: a route
    whose gateway or metric changed is one row gone and one come. The first reading (and the
    first after ``reset``) marks nothing.

    >>> lines = Lines(hold=3.0)
    >>> lines.update([("10.0.0.0/8", "eth0")], now=0.0)
    [Line(steady, ('10.0.0.0/8', 'eth0'))]
    >>> lines.update([("192.0.2.0/24", "eth1")], now=1.0)
    [Line(removed, ('10.0.0.0/8', 'eth0')), Line(added, ('192.0.2.0/24', 'eth1'))]
    >>> lines.update([("192.0.2.0/24", "eth1")], now=4.5)
    [Line(steady, ('192.0.2.0/24', 'eth1'))]
    """

    def __init__(self, hold: float = HOLD):
        self.hold = hold
        self.shown: list[Line] = []
        self.first = True

    def reset(self) -> None:
        self.first = True

    def update(self, rows: Iterable[tuple[str, ...]], now: float) -> list[Line]:
        """This reading's rows in its order, each row that went in place after the row it
        followed (a few a reading: each is put back with one search of the list)."""
        before = {line.key: line for line in self.shown}
        until = now + self.hold
        shown: list[Line] = []
        for cells in dict.fromkeys(rows):  # a row listed twice is one row
            line = before.get(cells)
            if line is None:
                line = Line(cells, "" if self.first else "added", until)
            elif line.mark == "removed":  # it went and came back
                line.mark, line.until = "added", until
            elif line.mark and line.until <= now:
                line.mark = ""
            shown.append(line)
        if not self.first:
            kept = {line.key for line in shown}
            after = None  # the row before, in the list shown last time
            for line in self.shown:
                if line.key not in kept and (line.mark != "removed" or line.until > now):
                    if line.mark != "removed":
                        line.mark, line.until = "removed", until
                    at = 0 if after is None else next(
                        (i + 1 for i, other in enumerate(shown) if other.key == after), len(shown))
                    shown.insert(at, line)
                    kept.add(line.key)
                after = line.key if line.key in kept else after
        self.first = False
        self.shown = shown
        return list(shown)
