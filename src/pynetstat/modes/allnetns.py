"""``--all-netns``: one display of the connection table across every network namespace; the
namespaces that could not be read are named on stderr, each with why, after the rows."""

from __future__ import annotations

from pynetstat.errors import Exit
from pynetstat.formats import chosen
from pynetstat.session import NoCycleCollection, Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.options import Options


def run(opts: Options, env: Environment) -> int:
    from pynetstat.linux.allnetns import collect
    from pynetstat.views.connections import notes

    session = Session(opts, env)
    conns = collect(opts, env)
    try:
        with NoCycleCollection():
            fmt = chosen(session)
            fmt.write_connections(env.stdout, conns, session.in_order(iter(conns)))
        for note in notes(conns):
            session.say(note)
        return Exit.OK
    finally:
        conns.close()
        session.close()
