"""The CSV format (docs/csv.md): a header row, then one record per row, RFC 4180 quoting by the
``csv`` module (CRLF line ends; a cell with a comma, a quote or a line end is quoted, quotes
doubled). Every row holds the values of the JSON row of the same thing (render/csvout.py).

With an interval it is one stream: the header once, then the rows of every display, each with
``timestamp``, ``pass`` and ``host``; with ``--changes`` also a ``change`` column, empty on the
rows of the first display. The methods are those of every format (formats/text.py lists them).
What JSON puts after the rows (sources, what could not be read) is said on stderr, as in text.
"""

from __future__ import annotations

import csv
import io

from pynetstat.render.csvout import (
    CONNECTION_CHANGE,
    COUNTER_COLUMNS,
    INTERVAL,
    NETNS_COLUMNS,
    ROUTE_CHANGE_COLUMNS,
    ROUTE_COLUMNS,
    SECTION_TABLES,
    ConnectionRows,
    NetnsCells,
    connection_columns,
    netns_values,
    record_cells,
    route_records,
    row_cells,
    spread_columns,
)
from pynetstat.textsafe import csv_text, safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, TextIO

    from pynetstat.formats import Connections, Format
    from pynetstat.model.changes import ConnectionChange, CounterChange, NamespaceChange
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.options import Options
    from pynetstat.render.csvout import OwnerJson
    from pynetstat.session import Session


class CsvFormat:
    line_records = True  # each record is one line: interval mode keeps a line whole on a signal

    def __init__(self, session: Session):
        self.session = session
        self.headed = False  # the header is written once per stream

    def _start(self, out: TextIO, columns: tuple[str, ...], head: dict[str, Any] | None
               ) -> tuple[object, ...]:
        """Write the header if this is the stream's first display; return the cells every row of
        this display starts with (interval mode: timestamp, pass, host, and empty change cells)."""
        changes = self.session.opts.changes
        if not self.headed:
            self.headed = True
            lead: tuple[str, ...] = INTERVAL if head else ()
            if changes and columns[0] != "change":
                lead += ("change",)
            csv.writer(out).writerow(lead + columns)
        if not head:
            return ()
        prefix: tuple[object, ...] = (head["timestamp"], head["pass"], csv_text(head["host"]))
        return prefix + (None,) if changes and columns[0] != "change" else prefix

    def write_connections(self, out: TextIO, conns: Connections, batches: Iterable[SocketBatch],
                          head: dict[str, Any] | None = None) -> None:
        session = self.session
        changes = session.opts.changes
        groups = session.opts.extension_groups
        spread = spread_columns(groups)
        columns = (CONNECTION_CHANGE[1:] if changes else ()) + connection_columns(spread)
        netns = NetnsCells() if with_netns(session.opts) else None
        if netns is not None:
            columns += NETNS_COLUMNS
        prefix = self._start(out, columns, head)
        if changes:
            prefix += (None,)  # previous_state
        owner_json: OwnerJson | None = None
        if session.opts.executables:
            from pynetstat.render.owners import owner_json as of_owner

            owner_json = of_owner
        ext_json = None
        if groups:
            from pynetstat.render.extensions_json import extension_encoder

            ext_json = extension_encoder(groups)
        encoder = ConnectionRows(session.opts.wants_owners, session.names, session.ifname,
                                 owner_json, prefix, ext_json, spread)
        # Rows leave about 64 KiB at a time: a dump of mixed sockets comes in batches of a few
        # rows, and a write to the output stream costs more than a short row's text.
        pending: list[str] = []
        size = 0
        for batch in batches:
            text = encoder.text(batch)
            if netns is not None:
                text = netns.append(text, batch.netns)
            pending.append(text)
            size += len(text)
            if size > _FLUSH:
                out.write("".join(pending))
                pending, size = [], 0
        out.write("".join(pending))

    def write_processes(self, out: TextIO, rows: list[Any], head: dict[str, Any] | None = None
                        ) -> None:
        """-c: a row per process (render/processes.COLUMNS)."""
        from pynetstat.render.processes import COLUMNS, process_records

        prefix = list(self._start(out, COLUMNS, head))
        csv.writer(out).writerows(prefix + record_cells(r, COLUMNS)
                                  for r in process_records(rows))

    def write_sections(self, out: TextIO, sections: list[tuple[str, Any, Any]],
                       head: dict[str, Any] | None = None) -> None:
        """One view (cli refuses --csv with more than one of -e, -s, -r: one header each)."""
        opts = self.session.opts
        ((key, view, snapshot),) = sections
        if opts.changes:
            # The first display of --changes: what the later rows are changes of.
            if key == "routes":
                records = route_records(view.route_json(route) for family in (4, 6)
                                        for route in view.shown_routes(snapshot, family, opts))
                columns = ROUTE_CHANGE_COLUMNS
            else:
                records = [{"view": key, "name": name, "value": value}
                           for name, value in view.counters(snapshot).items()]
                columns = COUNTER_COLUMNS
        else:
            make_columns, make_records = SECTION_TABLES[key]
            columns = make_columns()
            records = make_records(view.to_json(snapshot, opts))
        netns: list[object] = []
        header = columns
        if head is not None and "netns" in head:  # --all-netns: each namespace's rows say it
            header += NETNS_COLUMNS
            netns = netns_values(head["netns"])
            head = head if "timestamp" in head else None  # a single run has no interval cells
        prefix = list(self._start(out, header, head))
        csv.writer(out).writerows(prefix + record_cells(r, columns) + netns for r in records)

    def connection_changes(self, out: TextIO) -> ConnectionChangeCsv:
        return ConnectionChangeCsv(out, self.session)

    def counter_changes(self, out: TextIO) -> CounterChangeCsv:
        return CounterChangeCsv(out, self.session)

    def write_namespace_changes(self, out: TextIO, changes: list[NamespaceChange], stamp: float,
                                number: int) -> None:
        """One table has no row for a namespace: said on stderr, as the notes are (its rows
        carry it in the netns columns, and with --changes its connections come and go)."""
        from pynetstat.model.netns_labels import netns_named

        for change in changes:
            self.session.say(f"network namespace {netns_named(change.netns)} "
                             + ("appeared" if change.kind == "added" else "went away"))

    def write_findings(self, out: TextIO, findings: list[Any], processes: int, notes: list[str],
                       status: int) -> None:
        """One row per finding; its process, sockets and evidence as JSON text. The notes (what
        could not be checked) go to stderr."""
        from pynetstat.render.audit import findings_json

        doc = findings_json(findings, processes, notes, status)
        columns = FINDING_COLUMNS
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(record_cells(f, columns) for f in doc["findings"])
        for note in notes:
            self.session.say(safe(note))

    def write_baseline_changes(self, out: TextIO, changes: list[dict[str, Any]], status: int
                               ) -> None:
        writer = csv.writer(out)
        writer.writerow(BASELINE_COLUMNS)
        writer.writerows(record_cells(c, BASELINE_COLUMNS) for c in changes)


def with_netns(opts: Options) -> bool:
    """Rows carry their namespace (``NETNS_COLUMNS``) with --netns and --all-netns, as JSON's
    rows carry ``netns``."""
    return opts.all_netns or opts.netns is not None


_FLUSH = 1 << 16
FINDING_COLUMNS = ("severity", "sign", "why", "process", "sockets", "evidence")
# Every field a --diff change may have (audit/baseline.py): a listener's, a destination's, a new
# executable's, a replaced one's; a change leaves the others empty.
BASELINE_COLUMNS = ("change", "proto", "family", "address", "port", "exe", "names", "users",
                    "destinations", "was", "now")


class ConnectionChangeCsv:
    """--changes of the connection table: one row per socket that appeared, closed or changed
    state, under the header of the first display."""

    def __init__(self, out: TextIO, session: Session):
        self.out = out
        self.session = session
        opts = session.opts
        self.spread = spread_columns(opts.extension_groups)
        self.netns = with_netns(opts)
        self.owner_json = None
        if opts.executables:
            from pynetstat.render.owners import owner_json

            self.owner_json = owner_json
        self.ext_json = None
        if opts.extension_groups:
            from pynetstat.render.extensions_json import extension_encoder

            self.ext_json = extension_encoder(opts.extension_groups)

    def begin(self) -> None:
        """The header came with the first display."""

    def write(self, changes: list[ConnectionChange], stamp: float, number: int) -> None:
        from pynetstat.model.sockets import spec_state_name
        from pynetstat.render.changes_json import change_extensions, change_peer
        from pynetstat.render.jsonout import connection_record

        session = self.session
        with_owners = session.opts.wants_owners
        lead = (stamp, number, csv_text(session.host()))
        rows = []
        for change in changes:
            record = connection_record(change.sock, change.owners if with_owners else None,
                                       session.names, session.ifname, self.owner_json,
                                       change_extensions(change, self.ext_json),
                                       change_peer(change, with_owners))
            previous = (None if change.previous_state is None
                        else spec_state_name(change.previous_state))
            rows.append((*lead, change.kind, previous, *row_cells(record, self.spread)))
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        if not self.netns:
            self.out.write(text.getvalue())
            return
        # each change's row with the cells of its own namespace (cells made for this pass's
        # namespace records: NetnsCells knows them by id)
        cells = NetnsCells()
        for line, change in zip(text.getvalue().split("\r\n"), changes):
            self.out.write(cells.append(line + "\r\n", change.netns))


class CounterChangeCsv:
    """--changes of -e and -s: a row per counter that moved; of -r, a row per path of each route
    added, removed or changed."""

    def __init__(self, out: TextIO, session: Session):
        self.out = out
        self.session = session

    def begin(self) -> None:
        """The header came with the first display."""

    def write(self, counters: list[CounterChange],
              routes: list[tuple[str, dict[str, Any], dict[str, Any] | None]], stamp: float,
              number: int, netns: NetNamespace | None = None) -> None:
        """``netns`` (--all-netns): each row ends with the namespace's ``netns_*`` cells."""
        lead = [stamp, number, csv_text(self.session.host())]
        tail: list[object] = []
        if netns is not None:
            from pynetstat.model.netns_labels import netns_json

            tail = netns_values(netns_json(netns))
        rows = [lead + [c.kind, c.view, csv_text(c.name), c.value, c.previous, c.delta,
                        None if c.rate is None else round(c.rate, 3)] + tail for c in counters]
        # the changed routes are numbered as one listing
        rows += [lead + [kind, *record_cells({**row, "route": number}, ROUTE_COLUMNS)] + tail
                 for number, (kind, route, _previous) in enumerate(routes, 1)
                 for row in route_records([route])]
        csv.writer(self.out).writerows(rows)


if TYPE_CHECKING:
    _CONTRACT: type[Format] = CsvFormat  # the type checker holds it to the formats' contract
