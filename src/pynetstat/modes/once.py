"""One display of the view the options select, then the notes on what could not be seen."""

from __future__ import annotations

from pynetstat.errors import Exit
from pynetstat.formats import chosen
from pynetstat.modes import wanted
from pynetstat.session import NoCycleCollection, Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.formats import Format
    from pynetstat.options import Options


def run(opts: Options, env: Environment) -> int:
    session = Session(opts, env)
    try:
        show(session, chosen(session))
        return Exit.OK
    finally:
        session.close()


def show(session: Session, fmt: Format) -> None:
    with NoCycleCollection():
        if wanted(session.opts):
            show_sections(session, fmt)
        elif session.opts.processes:
            show_processes(session, fmt)
        else:
            show_connections(session, fmt)


def show_connections(session: Session, fmt: Format) -> None:
    from pynetstat.linux.connections import collect
    from pynetstat.views.connections import notes

    conns = collect(session.opts, session.env, session.netlink)
    fmt.write_connections(session.env.stdout, conns, session.in_order(iter(conns)))
    for note in notes(conns):
        session.say(note)


def show_processes(session: Session, fmt: Format) -> None:
    """-c: the processes by the ports they hold, from one reading of every socket with owners."""
    from pynetstat.linux.connections import collect
    from pynetstat.model.passes import ByteRates
    from pynetstat.views.connections import notes
    from pynetstat.views.processes import port_counts

    conns = collect(session.opts, session.env, session.netlink)
    traffic = ByteRates() if session.opts.info else None  # one reading: bytes, no rates
    fmt.write_processes(session.env.stdout, port_counts(conns, traffic))
    for note in notes(conns):
        session.say(note)


def show_sections(session: Session, fmt: Format) -> None:
    from pynetstat.modes import collect_sections, section_notes

    sections = collect_sections(session)
    fmt.write_sections(session.env.stdout, sections)
    for note in section_notes(sections):
        session.say(note)
