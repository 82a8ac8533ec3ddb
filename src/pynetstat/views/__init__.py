"""Views: a snapshot as text or JSON pieces, its notes and counter readings; they never read the
kernel. ``connections.py`` is what a connection display says after its rows; the others are the
spec's other views, -e (interface statistics), -s (protocol statistics), -r (routes): which option
asks for which view, in which order, and what feeds it is the table below, the one place.

Each view module offers ``render_text``, ``to_json``, ``counters`` and (where it can lose
something) ``notes``; the collector is ``collect(opts, procfs, netlink)``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.options import Options
    from pynetstat.session import Session

# (JSON key, the Options field that asks for it, view module, (collector module, function)),
# in the order the spec's netstat prints them (-e before -s).
SECTIONS = (
    ("interfaces", "ethernet", "pynetstat.views.interfaces", ("pynetstat.views.interfaces", "collect")),
    ("statistics", "statistics", "pynetstat.views.statistics", ("pynetstat.views.statistics", "collect")),
    ("routes", "routes", "pynetstat.views.routes", ("pynetstat.views.routes", "collect")),
)


def import_module(name: str):
    """The module ``name`` (``importlib.import_module`` without importing importlib)."""
    __import__(name)
    return sys.modules[name]


def wanted(opts: Options) -> bool:
    """Does this run show sections (-e, -s, -r) rather than the connection table?"""
    return any(getattr(opts, flag) for _, flag, _, _ in SECTIONS)


def selected_views(opts: Options) -> list[tuple[str, object]]:
    """``[(json key, view module), ...]`` for -e, -s, -r, in display order."""
    return [(key, import_module(view)) for key, flag, view, _ in SECTIONS if getattr(opts, flag)]


def collect_sections(session: Session) -> list[tuple[str, object, object]]:
    """``[(key, view, snapshot), ...]``: one reading of every selected view."""
    from pynetstat.linux.procfs import ProcFS

    procfs = ProcFS(session.env.proc_root)
    out = []
    for key, flag, view, (module, function) in SECTIONS:
        if getattr(session.opts, flag):
            collect = getattr(import_module(module), function)
            out.append((key, import_module(view), collect(session.opts, procfs, session.netlink)))
    return out


def section_notes(sections: list[tuple[str, object, object]]) -> list[str]:
    """What the views could not read, one line each (a view's ``notes``, where it has one)."""
    return [note for _, view, snapshot in sections
            for note in (view.notes(snapshot) if hasattr(view, "notes") else ())]
