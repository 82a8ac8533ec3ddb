"""The spec's other views: -e (interface statistics), -s (protocol statistics), -r (routes).

Each topic has a collector in linux/ (``collect``) and a view (``render_text``, ``to_json``,
``counters``, ``notes``); this module picks the ones the options ask for, in the order the
spec's netstat prints them (-e before -s).
"""

from __future__ import annotations

import json

from pynetstat.linux.procfs import ProcFS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.options import Options
    from pynetstat.run import Session


# (JSON key, the Options flag that selects it, collector, view), in the order the spec's netstat
# prints them. Every collector is ``collect(opts, procfs, netlink) -> snapshot`` and never raises
# for a source it cannot read (the snapshot's notes say so); every view formats a snapshot.
SECTIONS = (
    ("interfaces", "ethernet", "pynetstat.linux.links", "pynetstat.views.interfaces"),
    ("statistics", "statistics", "pynetstat.linux.counters", "pynetstat.views.statistics"),
    ("routes", "routes", "pynetstat.linux.routes", "pynetstat.views.routes"),
)


def collect_sections(session: Session) -> list[tuple[str, object, object]]:
    """``[(key, view, snapshot), ...]``: one reading of every selected view."""
    from importlib import import_module

    procfs = ProcFS(session.env.proc_root)
    return [(key, import_module(view),
             import_module(collector).collect(session.opts, procfs, session.netlink))
            for key, flag, collector, view in SECTIONS if getattr(session.opts, flag)]


def sections_json(sections: list[tuple[str, object, object]], opts: Options) -> dict:
    doc: dict = {"schema_version": 1}
    for key, view, snapshot in sections:
        doc[key] = view.to_json(snapshot, opts)
    return doc


def section_notes(sections: list[tuple[str, object, object]]) -> list[str]:
    """What the views could not read, one line each (a view's ``notes``, where it has one)."""
    # dict: -er reads the interfaces for both views; a failure to is said once.
    return list(dict.fromkeys(note for _, view, snapshot in sections
                              for note in view.notes(snapshot)))


def show_sections(session: Session) -> None:
    sections = collect_sections(session)
    out = session.env.stdout
    if session.opts.json:
        out.write(json.dumps(sections_json(sections, session.opts)) + "\n")
    else:
        out.write("".join(view.render_text(snapshot, session.opts) for _, view, snapshot in sections))
    for note in section_notes(sections):
        session.env.stderr.write(f"pynetstat: {note}\n")
