"""``--all-netns``: one display across every network namespace: the connection table with a
Namespace column, or (-e, -s, -r) each namespace's sections in turn, the host's first. The
namespaces that could not be read are named on stderr, each with why, after the output."""

from __future__ import annotations

from pynetstat.errors import Exit
from pynetstat.formats import chosen
from pynetstat.modes import wanted
from pynetstat.session import NoCycleCollection, Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.linux.allnetns import AllNamespaces
    from pynetstat.options import Options


def run(opts: Options, env: Environment) -> int:
    from pynetstat.linux.allnetns import collect

    session = Session(opts, env)
    every = collect(opts, env)
    try:
        with NoCycleCollection():
            if wanted(opts):
                _sections(session, every)
            else:
                _connections(session, every)
        return Exit.OK
    finally:
        every.close()
        session.close()


def _connections(session: Session, every: AllNamespaces) -> None:
    from pynetstat.session import EveryNamespaceInterfaceNames
    from pynetstat.views.connections import notes

    session.ifname = EveryNamespaceInterfaceNames(
        {p.namespace.inode: p.netlink for p in every.parts}, _own_inode(session))
    chosen(session).write_connections(session.env.stdout, every,
                                      session.in_order(iter(every)))
    for note in notes(every):
        session.say(note)


def _sections(session: Session, every: AllNamespaces) -> None:
    """Each namespace's -e, -s, -r, read through its own netlink source and net/ files; a
    ``netns`` head names it (a title line in text, the ``netns`` field of its JSON line)."""
    from pynetstat.model.netns_labels import namespace_notes, netns_cell, netns_json
    from pynetstat.modes import collect_sections, section_notes

    notes = namespace_notes(every)
    for part in every.parts:
        inside = Session(session.opts, part.env)
        sections = collect_sections(inside)
        chosen(inside).write_sections(session.env.stdout, sections,
                                      {"netns": netns_json(part.namespace)})
        label = netns_cell(part.namespace)
        notes += [f"namespace {label}: {note}" for note in section_notes(sections)]
    for note in dict.fromkeys(notes):
        session.say(note)


def _own_inode(session: Session) -> int | None:
    import os

    try:
        return os.stat(f"{session.env.proc_root}/thread-self/ns/net").st_ino
    except OSError:
        return None
