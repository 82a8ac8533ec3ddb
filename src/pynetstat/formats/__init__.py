"""Output formats: one strategy class per format, chosen once from the options.

Every format has the same methods (``formats/text.py`` documents them); modes and views never
ask which format they feed. Adding a format is a row in ``FORMATS``, one module that defines its
class, and the option that names it in ``format_name``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Protocol, TextIO

    from pynetstat.linux.allnetns import AllNamespaces
    from pynetstat.linux.connections import ConnectionSet
    from pynetstat.model.changes import ConnectionChange, CounterChange, NamespaceChange, Route
    from pynetstat.model.evidence import Finding
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.options import Options
    from pynetstat.session import Session
    from pynetstat.views.processes import ProcessPorts

    # one reading of the sockets: one namespace's, or every one's (--all-netns)
    Connections = ConnectionSet | AllNamespaces
    # (JSON key, view module, its snapshot): one of modes.SECTIONS, read
    Section = tuple[str, Any, Any]
    # the head of an interval display: {"type": "display", "timestamp", "pass", "host"}
    Head = dict[str, Any]

    class ConnectionChangeWriter(Protocol):
        """What ``connection_changes`` gives: ``begin()`` once, ``write()`` each pass."""

        def begin(self) -> None: ...

        def write(self, changes: list[ConnectionChange], stamp: float, number: int) -> None: ...

    class CounterChangeWriter(Protocol):
        """What ``counter_changes`` gives: ``begin()`` once, ``write()`` each pass."""

        def begin(self) -> None: ...

        def write(self, counters: list[CounterChange],
                  routes: list[tuple[str, Route, Route | None]], stamp: float,
                  number: int, netns: NetNamespace | None = None) -> None: ...

    class Format(Protocol):
        """The methods every format has (formats/text.py says what each does)."""

        line_records: bool

        def write_connections(self, out: TextIO, conns: Connections,
                              batches: Iterable[SocketBatch], head: Head | None = None) -> None: ...

        def write_processes(self, out: TextIO, rows: list[ProcessPorts],
                            head: Head | None = None) -> None: ...

        def write_sections(self, out: TextIO, sections: list[Section],
                           head: Head | None = None) -> None: ...

        def connection_changes(self, out: TextIO) -> ConnectionChangeWriter: ...

        def counter_changes(self, out: TextIO) -> CounterChangeWriter: ...

        def write_namespace_changes(self, out: TextIO, changes: list[NamespaceChange],
                                    stamp: float, number: int) -> None: ...

        def write_findings(self, out: TextIO, findings: list[Finding], processes: int,
                           notes: list[str], status: int) -> None: ...

        def write_baseline_changes(self, out: TextIO, changes: list[dict[str, Any]],
                                   status: int) -> None: ...

# format name -> (module, class); the module is imported only when its format is chosen.
FORMATS = {
    "text": ("pynetstat.formats.text", "TextFormat"),
    "json": ("pynetstat.formats.json", "JsonFormat"),
    "csv": ("pynetstat.formats.csv", "CsvFormat"),
}


def format_name(opts: Options) -> str:
    """The one place that reads which format the options ask for."""
    return "csv" if opts.csv else "json" if opts.json else "text"


def chosen(session: Session) -> Format:
    """The strategy for this run's options, made for ``session``."""
    module, name = FORMATS[format_name(session.opts)]
    __import__(module)
    fmt: Format = getattr(sys.modules[module], name)(session)
    return fmt
