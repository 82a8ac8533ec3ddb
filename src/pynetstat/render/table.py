"""The connection table as text, in the spec's layout::

    Active Connections

      Proto  Local Address          Foreign Address        State           PID
      TCP    127.0.0.1:5432         127.0.0.1:50312        ESTABLISHED     1234

Columns are measured, then printed, a block of rows at a time: a listing of 200,000 sockets
streams instead of waiting for the last row. The spec's widths are the minimum; a wider cell
(a long IPv6 address) widens its column from that block on, and columns never shrink.
"""

from __future__ import annotations

from itertools import chain, compress, repeat

from pynetstat.kinds import BY_PROTOCOL
from pynetstat.model.sockets import SPEC_STATE_NAMES, spec_state_name
from pynetstat.render.endpoints import (
    WILDCARD,
    Memo,
    pid_text,
    row_cells,
)
from pynetstat.textsafe import ljust, width

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, TextIO, TypeAlias

    from pynetstat.model.sockets import InetSocket, Owner, SocketBatch
    from pynetstat.options import Options
    from pynetstat.render.endpoints import UnixColumns
    from pynetstat.resolve import Names

    # the text under each row of a batch: a ``%`` template and its columns (ext_lines_for)
    Under = tuple[str, list[Iterable[Any]]]
    # a block's part: measured rows' cells, a UNIX batch's columns, or a batch that _fits
    Part: TypeAlias = "list[tuple[str, ...]] | ColumnPart | SocketBatch"
    RowsFormat = Callable[[list[tuple[str, ...]], str], list[str]]  # (rows, lead) -> lines

TITLE = "\nActive Connections\n\n"
HEADINGS = ("Proto", "Local Address", "Foreign Address", "State", "PID")
NETNS_HEADING = "Namespace"  # --all-netns: the first column, the namespace of the row
MIN_WIDTHS = [7, 23, 23, 16]  # Proto, Local, Foreign, State; PID is last and never padded
BLOCK = 2048


# Kernel state -> the spec's name; a code we do not know prints as ``UNKNOWN(n)``.
TCP_STATE_TEXT = Memo(spec_state_name, SPEC_STATE_NAMES)


def _udp_foreign(cell: str, address: str, port: int) -> str:
    """An unconnected UDP socket has no foreign address: ``*:*``, as in the spec's table."""
    return "*:*" if port == 0 and address in WILDCARD else cell


class ColumnPart:
    """Rows of a block kept by column (UNIX batches): the Proto cell, the same on every row and
    so kept once (``label``), then a list of cells per column; ``widest``, per column, its
    widest cell (terminal columns) and whether all are ASCII as the maker knows them (``(columns,
    ascii)``: ``UnixColumns.widest``), or None to measure the column row by row."""

    __slots__ = ("label", "columns", "widest")

    def __init__(self, label: str, columns: list[list[str]],
                 widest: Sequence[tuple[int, bool] | None] = ()):
        self.label = label
        self.columns = columns
        self.widest = tuple(widest) + (None,) * (len(columns) - len(widest))

    def __len__(self) -> int:
        return len(self.columns[0])

    def isascii(self) -> bool:
        return self.label.isascii() and all(
            (known is not None and known[1]) or "".join(column).isascii()
            for known, column in zip(self.widest, self.columns))

    def measures(self, measure: Callable[[str], int]) -> list[int]:
        """Each column's widest cell, Proto first: known, or measured with ``measure``."""
        return [measure(self.label)] + [
            known[0] if known is not None else max(map(measure, column), default=0)
            for known, column in zip(self.widest, self.columns)]

    def rows(self) -> list[tuple[str, ...]]:
        return list(zip(repeat(self.label), *self.columns))


class ConnectionTable:
    """Streams rows to ``out`` in blocks of about ``BLOCK``: measure a block, widen columns,
    print it.

    A block is a list of parts, in order: lists of cell tuples (rows that need measuring) and
    whole batches of numeric TCP rows that cannot widen a column (``_fits``), which are formatted
    at flush time straight into lines, without building cells."""

    def __init__(self, out: TextIO, opts: Options, names: Names | None,
                 ifname: Callable[[int], str],
                 owner_lines: Callable[[tuple[Owner, ...], bool], list[str]] | None = None,
                 ext_lines: Callable[[SocketBatch], Under] | None = None):
        self.out = out
        self.opts = opts
        self.names = names
        self.ifname = ifname
        # --all-netns: a scope is an ifindex of the row's namespace (session.InterfaceNames.within)
        self.within = getattr(ifname, "within", None)
        self.scope_names = ifname
        self.owner_lines = owner_lines  # (owners, verbose) -> list[str], for -b
        # a batch with extensions -> the text under each of its rows (-d, --info, ...), as a
        # ``%`` template and its columns (render/extensions.ext_lines_for)
        self.ext_lines = ext_lines
        self.columns = 5 if opts.pids else 4
        self.widths = list(MIN_WIDTHS)
        self.parts: list[Part] = []
        # a batch part's text under each row (ext_lines' template and columns), or None
        self.part_unders: list[Under | None] = []
        # --all-netns: a Namespace column before Proto. Each part's rows are of one namespace:
        # its cell, one per part, goes in front of every line of the part (a prefix, so the
        # column paths below stay as they are).
        self.netns = opts.all_netns
        self.netns_width = len(NETNS_HEADING) + 1
        self.cell = ""  # the namespace cell of the batch being added
        self.part_cells: list[str] = []
        self.rows = 0  # rows in this block
        # row index in the block -> the text under it (-b lines, and the --info, --timers...
        # lines of measured rows), each line ending with a newline
        self.extra: dict[int, str] = {}
        self.extra_parts: set[int] = set()  # the parts with rows in ``extra``
        self.started = False
        # owners tuple -> PID cell; the owner join shares one tuple per process, so this is one
        # entry per process, not per socket
        self.pid_cells: dict[tuple[Owner, ...], str] = Memo(
            lambda owners: pid_text(tuple(o.pid for o in owners)))
        # room -> (address -> the width left for the port after "address:")
        self.pads: dict[int, dict[str, int]] = Memo(
            lambda room: Memo(lambda address: room - len(address)))
        self.owner_blocks: dict[tuple[Owner, ...], str] = {}
        # (accepted, peer inode or 0, the peer's owners) -> -b's line for the other end
        self.peer_lines: dict[tuple[bool | None, int, tuple[Owner, ...]], str] | None = None
        self.unix_columns: UnixColumns | None = None  # made at the first UNIX batch
        self.unreadable_lines = ""
        if opts.executables and owner_lines is not None:
            from pynetstat.render.owners import UNREADABLE_LINE, peer_line

            # A socket some process holds (it has an inode) but none we can see: say so, as the
            # spec's netstat does. TIME_WAIT and request sockets (inode 0) have no owner.
            self.unreadable_lines = UNREADABLE_LINE + "\n"
            # owners tuple -> the -b lines under its rows, made once per distinct owners tuple
            self.owner_blocks = Memo(lambda owners: "".join(
                line + "\n" for line in owner_lines(owners, opts.verbose)))
            # (accepted, peer inode, peer owners) -> the -b line naming the other end
            self.peer_lines = Memo(lambda key: peer_line(*key) + "\n")

    def write_batches(self, batches: Iterable[SocketBatch]) -> None:
        for batch in batches:
            start = self.rows
            if self.netns:
                self._enter_namespace(batch)
            kind = BY_PROTOCOL[(batch.proto, batch.family)]
            under = None
            if self.ext_lines is not None and batch.extensions is not None:
                under = self.ext_lines(batch)
            # The column paths know the inet shape; any other shape goes row by row.
            if kind.shape == "inet" and self.names is None and not any(batch.scope):
                # Straight to lines only with a State column: a kind without one (UDP) may
                # print "*:*" and no state, which the measured path handles.
                if kind.has_state and self._fits(batch):
                    self._add_part(batch, under)  # the text under its rows goes in its lines
                    self.rows += len(batch)
                    under = None
                else:
                    self._add_numeric(batch)
                if self.opts.executables:
                    self._add_owner_lines(batch, start)
            elif kind.shape == "unix":
                self._add_unix(batch, kind.label)
                if self.opts.executables:
                    self._add_owner_lines(batch, start)
            else:
                self.write_rows(batch.rows())
                if self.opts.executables and kind.shape == "inet":
                    self._add_peer_lines(batch, start)
            if under is not None:
                self._add_ext_lines(under, start)
            if self.rows >= BLOCK:
                self.flush()

    def _enter_namespace(self, batch: SocketBatch) -> None:
        from pynetstat.model.netns_labels import netns_cell

        if self.within is not None:
            self.scope_names = self.within(batch.netns)
        cell = netns_cell(batch.netns)
        if cell != self.cell:
            self.cell = cell
            if self.parts and isinstance(self.parts[-1], list):
                self._add_part([])  # rows of another namespace: a part of their own
        n = width(cell) + 1
        if n > self.netns_width:
            self.netns_width = n

    def _add_part(self, part: Part, under: Under | None = None) -> None:
        self.parts.append(part)
        self.part_cells.append(self.cell)
        self.part_unders.append(under)

    def _add_extra(self, row: int, text: str) -> None:
        """Text under a row of the last part (``extra``), below any already there."""
        below = self.extra.get(row)
        self.extra[row] = below + text if below else text
        self.extra_parts.add(len(self.parts) - 1)

    def _cells(self) -> list[tuple[str, ...]]:
        """The list of cell tuples at the end of the block, to add rows to."""
        if not self.parts or not isinstance(self.parts[-1], list):
            self._add_part([])
        return self.parts[-1]  # type: ignore[return-value]  # a list: checked, or just added

    def _lead(self, cell: str) -> str:
        """What each line starts with: two blanks, and with --all-netns the namespace cell."""
        return "  " + ljust(cell, self.netns_width) if self.netns else "  "

    def _fits(self, batch: SocketBatch) -> bool:
        """Can no cell of this batch widen the address columns? Then its rows need no measuring:
        an IPv4 cell is at most 21 characters; an IPv6 one is checked by its longest address.
        (Columns never shrink, so a batch that fits now fits when its block is printed.)"""
        room = min(self.widths[1], self.widths[2]) - 1  # a cell leaves one blank before the next
        if batch.family == 4:
            return room >= len("255.255.255.255:65535")
        longest = max(map(len, set(batch.local_address).union(batch.remote_address)), default=0)
        return room >= longest + len("[]:65535")

    def _batch_lines(self, batch: SocketBatch, lead: str = "  ",
                     under: Under | None = None, per_row: bool = False) -> list[str]:
        """A batch that ``_fits``, as text: its rows' cells go straight into one format string,
        the port by ``%-*d`` with a padding computed once per address, so no cell string is
        built; ``under``, the template and columns of the text under each row (--info), go in
        the same string. ``per_row``: one string per row (-b lines go between them)."""
        widths = self.widths
        v4 = batch.family == 4
        endpoint = "%s:%-*d" if v4 else "[%s]:%-*d"
        pad_local = self.pads[widths[1] - (1 if v4 else 3)]
        pad_remote = self.pads[widths[2] - (1 if v4 else 3)]
        local, remote = batch.local_address, batch.remote_address
        cells = [local, map(pad_local.__getitem__, local), batch.local_port,
                 remote, map(pad_remote.__getitem__, remote), batch.remote_port,
                 map(TCP_STATE_TEXT.__getitem__, batch.state)]
        label = BY_PROTOCOL[(batch.proto, batch.family)].label
        head = lead.replace("%", "%%") + label.ljust(widths[0]) + endpoint + endpoint
        if self.opts.pids:
            owners = batch.owners if batch.owners is not None else repeat((), len(batch))
            cells.append(map(self.pid_cells.__getitem__, owners))
            fmt = f"{head}%-{widths[3]}s%s\n"
        else:
            fmt = f"{head}%s\n"
        if under is not None:
            fmt += under[0]
            cells += under[1]
        rows = zip(*cells)
        if per_row:  # -b lines go between rows: one string per row
            return list(map(fmt.__mod__, rows))
        if under is not None:  # a long template: a ``%`` a row is faster than one per batch
            return ["".join(map(fmt.__mod__, rows))]
        # One ``%`` for the whole batch: no call, tuple or string per row.
        return [(fmt * len(batch)) % tuple(chain.from_iterable(rows))]

    def _add_owner_lines(self, batch: SocketBatch, start: int) -> None:
        """-b lines under the rows just added. The owner join shares one owners tuple per
        process, so the lines are made once per process and looked up per socket."""
        blocks = self.owner_blocks
        owners_column = batch.owners if batch.owners is not None else ((),) * len(batch)
        for i, (owners, inode) in enumerate(zip(owners_column, batch.inode)):
            text = blocks[owners] if owners else (self.unreadable_lines if inode else None)
            if text:
                self._add_extra(start + i, text)
        self._add_peer_lines(batch, start)

    def _add_peer_lines(self, batch: SocketBatch, start: int) -> None:
        """-b's line for the other end of a TCP or UDP connection on this host (the peer join),
        right under the row, above its owner lines (whose last line, ``[name]``, is what jc and
        scripts read as the program): ``  -> postgres 455`` (this end connected to a listener),
        ``  <- psql 812`` (this end was accepted), ``  <-> ...`` (unknown: UDP, no listener
        listed)."""
        lines = self.peer_lines
        if batch.SHAPE != "inet" or lines is None:  # a UNIX batch's peer is a column of its own
            return
        peer, accepted, owners = batch.peer, batch.peer_accepted, batch.peer_owners
        if peer is None or accepted is None or owners is None:
            return
        for i in compress(range(len(batch)), peer):
            # one line per (direction, process): only an end with no visible owner names its inode
            key = (accepted[i], 0 if owners[i] else peer[i], owners[i])
            below = self.extra.get(start + i)  # the owner lines: their [name] stays last (jc)
            self.extra[start + i] = lines[key] + below if below else lines[key]
            self.extra_parts.add(len(self.parts) - 1)

    def _add_ext_lines(self, under: Under, start: int) -> None:
        """--info, --timers, --memory lines under the measured rows just added (a batch part
        has them in its own lines), above any -b lines: ``extra`` holds the -b lines below."""
        template, columns = under
        if not columns:
            return
        extra = self.extra
        for i, text in enumerate(map(template.__mod__, zip(*columns))):
            if text:
                below = extra.get(start + i)
                extra[start + i] = text + below if below else text
                self.extra_parts.add(len(self.parts) - 1)

    def _add_numeric(self, batch: SocketBatch) -> None:
        """Numeric rows that need measuring, by column: every step is a ``map`` or ``zip``."""
        endpoint = "{}:{}" if batch.family == 4 else "[{}]:{}"
        local = map(endpoint.format, batch.local_address, batch.local_port)
        foreign = map(endpoint.format, batch.remote_address, batch.remote_port)
        n = len(batch)
        kind = BY_PROTOCOL[(batch.proto, batch.family)]
        label = repeat(kind.label, n)
        state: Iterable[str]
        if kind.has_state:
            state = map(TCP_STATE_TEXT.__getitem__, batch.state)
        else:
            state = repeat("", n)
            foreign = map(_udp_foreign, foreign, batch.remote_address, batch.remote_port)
        cells = self._cells()
        if self.opts.pids:
            owners = batch.owners if batch.owners is not None else repeat((), n)
            cells.extend(zip(label, local, foreign, state, map(self.pid_cells.__getitem__, owners)))
        else:
            cells.extend(zip(label, local, foreign, state))
        self.rows += n

    def _add_unix(self, batch: SocketBatch, label: str) -> None:
        """UNIX rows by column (``UnixColumns``), kept as columns (``ColumnPart``) until the
        block is printed."""
        if self.unix_columns is None:
            from pynetstat.render.endpoints import UnixColumns

            self.unix_columns = UnixColumns()
        n = len(batch)
        local, foreign, state = self.unix_columns.cells(batch)
        columns = [local, foreign, state]
        if self.opts.pids:
            owners = batch.owners if batch.owners is not None else repeat((), n)
            columns.append(list(map(self.pid_cells.__getitem__, owners)))
        self._add_part(ColumnPart(label, columns, self.unix_columns.widest))
        self.rows += n

    def write_rows(self, rows: Iterable[tuple[InetSocket, tuple[Owner, ...]]]) -> None:
        """Row at a time: names, link-local scopes, -b lines."""
        cells_list = self._cells()
        append = cells_list.append
        show_pids = self.opts.pids
        names, ifname = self.names, self.scope_names
        lines_for = self.owner_lines if self.opts.executables else None
        for sock, owners in rows:
            cells: tuple[str, ...] = row_cells(sock, ifname, names)
            append(cells + (self.pid_cells[owners],) if show_pids else cells)
            if lines_for is not None:
                extra = self.owner_blocks[owners] if owners else (
                    self.unreadable_lines if sock.inode else None)
                if extra:
                    self._add_extra(self.rows, extra)
            self.rows += 1

    def flush(self) -> None:
        widths = self.widths
        # every column of the block: the rows' cells transposed, and each column part's own
        measured = [part for part in self.parts if isinstance(part, list)]
        blocks: list[Sequence[Sequence[str]]]
        blocks = [list(zip(*chain.from_iterable(measured)))] if measured else []
        by_column = [part for part in self.parts if isinstance(part, ColumnPart)]
        # A host name may hold wide characters (CJK: two terminal columns each) or combining
        # marks (none): such a block is measured and padded in terminal columns, not characters.
        plain = (all("".join(column).isascii() for columns in blocks for column in columns[:4])
                 and all(kept.isascii() for kept in by_column))
        measure = len if plain else width
        measured_columns = 3 if self.columns == 4 else 4  # the last column is never padded
        for columns in blocks:
            for i in range(min(measured_columns, len(columns))):
                n = max(map(measure, columns[i]), default=0) + 1
                if n > widths[i]:
                    widths[i] = n
        for kept in by_column:
            # a known widest is in terminal columns: ``len`` for ASCII, as ``measure`` would be
            for i, n in enumerate(kept.measures(measure)[:measured_columns]):
                if n + 1 > widths[i]:
                    widths[i] = n + 1
        out = []
        if not self.started:
            self.started = True
            out.append(TITLE + self._format(HEADINGS[: self.columns], widths,
                                            self._lead(NETNS_HEADING)))
        if not plain:
            def format_rows(rows: list[tuple[str, ...]], lead: str) -> list[str]:
                return [self._format(cells if cells[3] or self.columns == 5 else cells[:3],
                                     widths, lead) for cells in rows]
        elif self.columns == 5:
            tail5 = f"%-{widths[0]}s%-{widths[1]}s%-{widths[2]}s%-{widths[3]}s%s\n"

            def format_rows(rows: list[tuple[str, ...]], lead: str) -> list[str]:
                return list(map((lead.replace("%", "%%") + tail5).__mod__, rows))
        else:
            tail4 = f"%-{widths[0]}s%-{widths[1]}s%-{widths[2]}s%s\n"
            tail3 = f"%-{widths[0]}s%-{widths[1]}s%s\n"  # no state (UDP): no trailing blanks

            def format_rows(rows: list[tuple[str, ...]], lead: str) -> list[str]:
                lead = lead.replace("%", "%%")
                fmt4, short = lead + tail4, lead + tail3
                return [fmt4 % cells if cells[3] else short % cells[:3] for cells in rows]
        extra, extra_parts = self.extra, self.extra_parts
        row = 0  # the block's index of the part's first row
        for index, (part, cell, under) in enumerate(zip(self.parts, self.part_cells,
                                                        self.part_unders)):
            lead = self._lead(cell)
            with_extra = index in extra_parts
            if isinstance(part, list):
                lines = format_rows(part, lead)
            elif isinstance(part, ColumnPart):
                lines = self._column_lines(part, lead, plain, format_rows, with_extra)
            else:
                lines = self._batch_lines(part, lead, under, with_extra)
            if with_extra:
                # Text under some rows (-b, the lines of measured rows): one merge, not a list
                # insertion per row (each moves the rest of the block).
                add, get = out.append, extra.get
                for at, line in enumerate(lines, row):
                    add(line)
                    text = get(at)
                    if text:
                        add(text)
            else:
                out += lines
            row += len(part)
        extra.clear()
        extra_parts.clear()
        self.parts.clear()
        self.part_cells.clear()
        self.part_unders.clear()
        self.rows = 0
        self.out.write("".join(out))

    def _column_lines(self, part: ColumnPart, lead: str, plain: bool,
                      format_rows: RowsFormat, per_row: bool = False) -> list[str]:
        """A column part's lines: with every State cell there (or a PID column), one ``%`` for
        the whole part, the Proto cell in the template and the other columns interleaved by
        slice assignment (no tuple or call per row); else, or with text under some rows
        (``per_row``: -b), a string per row as ``format_rows`` makes."""
        columns = part.columns
        n = len(columns[0])
        if not plain or per_row or not (self.columns == 5 or all(columns[2])):
            return format_rows(part.rows(), lead)
        k = len(columns)
        widths = self.widths
        fmt = ((lead + part.label.ljust(widths[0])).replace("%", "%%")
               + "".join(f"%-{w}s" for w in widths[1:k]) + "%s\n")
        cells: list[str] = [""] * (k * n)
        for i, column in enumerate(columns):
            cells[i::k] = column
        return [(fmt * n) % tuple(cells)]

    def _format(self, cells: tuple[str, ...], widths: list[int], lead: str = "  ") -> str:
        padded = "".join(ljust(c, widths[i]) for i, c in enumerate(cells[:-1]))
        return f"{lead}{padded}{cells[-1]}\n"

    def close(self) -> None:
        if self.parts or not self.started:
            self.flush()
