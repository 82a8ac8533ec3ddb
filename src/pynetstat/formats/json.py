"""The JSON format: one document per display (docs/json.md); with an interval, JSON Lines: each
display and each change one line (docs/interval.md). The methods are those of every format
(formats/text.py lists them)."""

from __future__ import annotations

import json

from pynetstat.model import SCHEMA_VERSION
from pynetstat.textsafe import json_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, TextIO

    from pynetstat.formats import Connections, Format, Head, Section
    from pynetstat.model.changes import NamespaceChange
    from pynetstat.model.evidence import Finding
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.render.changes_json import ConnectionChangeJson, CounterChangeJson
    from pynetstat.render.owners import OwnerJson
    from pynetstat.session import Session
    from pynetstat.views.processes import ProcessPorts


class JsonFormat:
    line_records = True

    def __init__(self, session: Session):
        self.session = session

    def write_connections(self, out: TextIO, conns: Connections, batches: Iterable[SocketBatch],
                          head: Head | None = None) -> None:
        """The document streams a batch at a time; with a ``head`` (interval mode) it is one
        line."""
        from pynetstat.render.jsonout import write_connections
        from pynetstat.views.connections import account

        session = self.session
        of_owner: OwnerJson | None = None
        if session.opts.executables:
            from pynetstat.render.owners import owner_json

            of_owner = owner_json
        ext_json = None
        if session.opts.extension_groups:
            from pynetstat.render.extensions_json import extension_encoder

            ext_json = extension_encoder(session.opts.extension_groups)
        head = _envelope(head)
        # OneLine has what write_connections uses of a stream: write
        write_connections(OneLine(out) if head else out,  # type: ignore[arg-type]
                          batches, session.opts.wants_owners, session.names, session.ifname,
                          of_owner, lambda: account(conns), head, ext_json)
        if head:
            out.write("\n")

    def write_processes(self, out: TextIO, rows: list[ProcessPorts], head: Head | None = None
                        ) -> None:
        """One document; with a ``head`` (interval mode) one JSON line per pass."""
        from pynetstat.render.processes import process_records

        out.write(json.dumps({"schema_version": SCHEMA_VERSION, **(_envelope(head) or {}),
                              "processes": process_records(rows)}) + "\n")

    def write_sections(self, out: TextIO, sections: list[Section],
                       head: Head | None = None) -> None:
        opts = self.session.opts
        doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **(_envelope(head) or {})}
        for key, view, snapshot in sections:
            doc[key] = view.to_json(snapshot, opts)
        out.write(json.dumps(doc) + "\n")

    def connection_changes(self, out: TextIO) -> ConnectionChangeJson:
        from pynetstat.render.changes_json import ConnectionChangeJson

        session = self.session
        return ConnectionChangeJson(out, session.opts, session.names, session.ifname,
                                    json_text(session.host()))

    def counter_changes(self, out: TextIO) -> CounterChangeJson:
        from pynetstat.render.changes_json import CounterChangeJson

        return CounterChangeJson(out, json_text(self.session.host()))

    def write_namespace_changes(self, out: TextIO, changes: list[NamespaceChange], stamp: float,
                                number: int) -> None:
        from pynetstat.render.changes_json import namespace_records

        out.write(namespace_records(changes, stamp, number, json_text(self.session.host())))

    def write_findings(self, out: TextIO, findings: list[Finding], processes: int, notes: list[str],
                       status: int) -> None:
        from pynetstat.render.audit import findings_json

        out.write(json.dumps(findings_json(findings, processes, notes, status)) + "\n")

    def write_baseline_changes(self, out: TextIO, changes: list[dict[str, Any]], status: int
                               ) -> None:
        from pynetstat.render.audit import changes_json

        out.write(json.dumps(changes_json(changes, status)) + "\n")


def _envelope(head: Head | None) -> Head | None:
    """The head of a JSON Lines record with its ``host`` escaped (a host name is any bytes)."""
    if head and "host" in head:
        return {**head, "host": json_text(head["host"])}
    return head


class OneLine:
    """A stream that drops newlines, so that a JSON document written for humans becomes one JSON
    line (``json.dumps`` escapes every newline inside a string, so each one here is layout)."""

    __slots__ = ("out",)

    def __init__(self, out: TextIO):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text.replace("\n", ""))


if TYPE_CHECKING:
    _CONTRACT: type[Format] = JsonFormat  # the type checker holds it to the formats' contract
