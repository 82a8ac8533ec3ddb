"""The spec's other views: -e (interface statistics), -s (protocol statistics), -r (routes).

Each view module offers ``collect``, ``render_text``, ``to_json`` and ``counters``; this module
picks the ones the options ask for, in the order the spec's netstat prints them (-e before -s).
"""

from __future__ import annotations

import json

from pynetstat.linux.procfs import ProcFS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.options import Options
    from pynetstat.run import Session


def selected_views(opts: Options) -> list[tuple[str, object]]:
    """``[(json key, view module), ...]`` for -e, -s, -r, in display order."""
    views: list[tuple[str, object]] = []
    if opts.ethernet:
        from pynetstat.views import interfaces

        views.append(("interfaces", interfaces))
    if opts.statistics:
        from pynetstat.views import statistics

        views.append(("statistics", statistics))
    if opts.routes:
        from pynetstat.views import routes

        views.append(("routes", routes))
    return views


def collect_sections(session: Session) -> list[tuple[str, object, object]]:
    """``[(key, view, snapshot), ...]``: one reading of every selected view."""
    procfs = ProcFS(session.env.proc_root)
    return [(key, view, view.collect(session.opts, procfs, session.netlink))
            for key, view in selected_views(session.opts)]


def sections_json(sections: list[tuple[str, object, object]], opts: Options) -> dict:
    doc: dict = {"schema_version": 1}
    for key, view, snapshot in sections:
        doc[key] = view.to_json(snapshot, opts)
    return doc


def section_notes(sections: list[tuple[str, object, object]]) -> list[str]:
    """What the views could not read, one line each (a view's ``notes``, where it has one)."""
    return [note for _, view, snapshot in sections
            for note in (view.notes(snapshot) if hasattr(view, "notes") else ())]


def show_sections(session: Session) -> None:
    sections = collect_sections(session)
    out = session.env.stdout
    if session.opts.json:
        out.write(json.dumps(sections_json(sections, session.opts)) + "\n")
    else:
        out.write("".join(view.render_text(snapshot, session.opts) for _, view, snapshot in sections))
    for note in section_notes(sections):
        session.env.stderr.write(f"pynetstat: {note}\n")
