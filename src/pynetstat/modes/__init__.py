"""Modes drive displays: once (``once.py``), or every interval (``interval.py``). Each offers
``run(opts, env) -> exit status``; ``cli.main`` picks one.

The spec's other views, -e, -s and -r, are one table here: which option asks for which view, in
which order (the spec's netstat prints -e before -s), and which collector in linux/ feeds it. Every
collector is ``collect(opts, procfs, netlink) -> snapshot`` and never raises for a source it cannot
read (the snapshot's notes say so); every view formats a snapshot. Modes sit above both, so this
is where the two meet.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from pynetstat.formats import Section
    from pynetstat.options import Options
    from pynetstat.session import Session

# (JSON key, the Options field that asks for it, collector module, view module)
SECTIONS = (
    ("interfaces", "ethernet", "pynetstat.linux.links", "pynetstat.views.interfaces"),
    ("statistics", "statistics", "pynetstat.linux.counters", "pynetstat.views.statistics"),
    ("routes", "routes", "pynetstat.linux.routes", "pynetstat.views.routes"),
)


def import_module(name: str) -> ModuleType:
    """The module ``name`` (``importlib.import_module`` without importing importlib)."""
    __import__(name)
    return sys.modules[name]


def wanted(opts: Options) -> bool:
    """Does this run show sections (-e, -s, -r) rather than the connection table?"""
    return any(getattr(opts, flag) for _, flag, _, _ in SECTIONS)


def collect_sections(session: Session) -> list[Section]:
    """``[(key, view, snapshot), ...]``: one reading of every selected view."""
    from pynetstat.linux.procfs import procfs_of

    procfs = procfs_of(session.env)
    sections: list[Section] = [(key, import_module(view),
                 import_module(collector).collect(session.opts, procfs, session.netlink))
                for key, flag, collector, view in SECTIONS if getattr(session.opts, flag)]
    filt = session.opts.filter
    if filt is not None:
        from pynetstat.linux.links import kept_interfaces

        kept = kept_interfaces(filt, session.netlink)
        if kept is not None:
            for _key, _view, snapshot in sections:
                _only_interfaces(snapshot, kept)
    return sections


def _only_interfaces(snapshot: Any, kept: set[str]) -> None:
    """-e, -r: only the rows of the kept interfaces (a route by the interfaces it goes out of)."""
    interfaces = getattr(snapshot, "interfaces", None)
    if interfaces is not None:
        snapshot.interfaces = [i for i in interfaces if i.name in kept]
    routes = getattr(snapshot, "routes", None)
    if routes is not None:
        snapshot.routes = [r for r in routes if any(hop.ifname in kept for hop in r.nexthops)]


def section_notes(sections: list[Section]) -> list[str]:
    """What the views could not read, one line each."""
    # dict: -er reads the interfaces for both views; a failure to is said once.
    return list(dict.fromkeys(note for _, view, snapshot in sections
                              for note in view.notes(snapshot)))
