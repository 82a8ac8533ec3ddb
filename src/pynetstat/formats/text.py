"""The text format: the spec's tables and views, for a person at a terminal.

The methods below are the contract every format keeps (``formats/__init__.py`` picks one):

- ``write_connections(out, conns, batches, head=None)``: one display of the connection table.
  ``head`` is given by interval mode (``{"type": "display", "timestamp": ..., "pass": n}``) for
  a format that marks each display as a record; ``batches`` are ``conns``'s, in print order.
- ``write_processes(out, rows)``: -c, the processes by the ports they hold
  (``views.processes.ProcessPorts``, most first).
- ``write_sections(out, sections, head=None)``: one display of -e, -s, -r:
  ``sections`` is ``[(key, view, snapshot), ...]`` (views/__init__.py).
- ``connection_changes(out)`` and ``counter_changes(out)``: the writers of ``--changes``, each
  with ``begin()`` (once, after the first display) and ``write(...)``: ``write(changes, stamp,
  number)`` for connections, ``write(counters, routes, stamp, number)`` for -s, -e, -r.
- ``write_findings(out, findings, processes, notes, status)``: --audit's findings (``Finding``
  records, most serious first), how many processes were checked, what could not be, and the
  exit status the findings give (docs/audit.md).
- ``write_baseline_changes(out, changes, status)``: --diff's changes (``audit.baseline``'s
  dicts) and their exit status.
- ``write_namespace_changes(out, changes, stamp, number)``: --all-netns with an interval, the
  namespaces that appeared or went away since the pass before (``model.changes.NamespaceChange``).
- ``line_records``: True when each display and change is one line of a stream that a reader
  parses line by line (JSON Lines), so that interval mode keeps a line from being cut midway.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, TextIO

    from pynetstat.formats import Connections, Format, Head, Section
    from pynetstat.model.changes import NamespaceChange
    from pynetstat.model.evidence import Finding
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.render.changes_text import ConnectionChangeText, CounterChangeText
    from pynetstat.render.owners import OwnerLines
    from pynetstat.session import Session
    from pynetstat.views.processes import ProcessPorts


class TextFormat:
    line_records = False

    def __init__(self, session: Session):
        self.session = session

    def write_connections(self, out: TextIO, conns: Connections, batches: Iterable[SocketBatch],
                          head: Head | None = None) -> None:
        from pynetstat.render.table import ConnectionTable

        session = self.session
        lines: OwnerLines | None = None
        if session.opts.executables:
            from pynetstat.render.owners import owner_lines

            lines = owner_lines
        ext_lines = None
        groups = session.opts.extension_groups
        if groups:
            from pynetstat.render.extensions import ext_lines_for

            ext_lines = ext_lines_for(groups, session.opts.numeric)
        table = ConnectionTable(out, session.opts, session.names, session.ifname, lines, ext_lines)
        table.write_batches(batches)
        table.close()

    def write_processes(self, out: TextIO, rows: list[ProcessPorts], head: Head | None = None
                        ) -> None:
        from pynetstat.render.processes import processes_text

        out.write(processes_text(rows, traffic=bool(self.session.opts.info)))

    def write_sections(self, out: TextIO, sections: list[Section],
                       head: Head | None = None) -> None:
        opts = self.session.opts
        netns = self.session.env.netns
        if head and "netns" in head and netns is not None:
            # --all-netns: each namespace's sections under its name
            from pynetstat.model.netns_labels import netns_title

            out.write(netns_title(netns))
        out.write("".join(view.render_text(snapshot, opts) for _, view, snapshot in sections))

    def connection_changes(self, out: TextIO) -> ConnectionChangeText:
        from pynetstat.render.changes_text import ConnectionChangeText

        session = self.session
        return ConnectionChangeText(out, session.opts, session.names, session.ifname,
                                    session.env.color)

    def counter_changes(self, out: TextIO) -> CounterChangeText:
        from pynetstat.render.changes_text import CounterChangeText

        return CounterChangeText(out, self.session.opts, self.session.env.color)

    def write_namespace_changes(self, out: TextIO, changes: list[NamespaceChange], stamp: float,
                                number: int) -> None:
        from pynetstat.render.changes_text import namespace_lines

        out.write(namespace_lines(changes, stamp, self.session.env.color))

    def write_findings(self, out: TextIO, findings: list[Finding], processes: int, notes: list[str],
                       status: int) -> None:
        from pynetstat.render.audit import findings_text

        out.write(findings_text(findings, processes, notes))

    def write_baseline_changes(self, out: TextIO, changes: list[dict[str, Any]], status: int
                               ) -> None:
        from pynetstat.render.audit import changes_text

        out.write(changes_text(changes))


if TYPE_CHECKING:
    _CONTRACT: type[Format] = TextFormat  # the type checker holds it to the formats' contract
