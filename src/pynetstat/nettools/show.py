"""One display of what the net-tools options select, once or every interval (``-c``).

The order is net-tools': -r, -i, -s alone; else the Internet table (tcp, udp, raw), the group
memberships (-g), then the UNIX table. What could not be read is said on stderr, as net-tools
says "(Not all processes could be identified ...)", with pynetstat's count and reason.
"""

from __future__ import annotations

from pynetstat.nettools.run import Run
from pynetstat.session import NoCycleCollection

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from pynetstat.env import Environment
    from pynetstat.nettools.flags import NetToolsOptions


def run(opts: NetToolsOptions, env: Environment) -> int:
    from pynetstat.errors import Exit

    session = Run(opts, env)
    try:
        while True:
            with NoCycleCollection():
                display(session)
            if not opts.continuous:
                return Exit.OK
            env.stdout.flush()
            env.sleep(opts.interval or 1.0)
    finally:
        session.close()


def display(session: Run) -> None:
    opts, out = session.opts, session.env.stdout
    notes: list[str] = []
    if opts.route or opts.interfaces or opts.statistics:
        from pynetstat.nettools import tables

        if opts.json:
            from pynetstat.nettools.jsonout import write

            write(out, tables.records(session, notes))
        else:
            out.write(tables.render(session, notes))
    elif opts.json:
        from pynetstat.nettools.jsonout import write_json

        write_json(session, out, notes)
    else:
        write_sockets(session, out, notes)
    if not (opts.route or opts.interfaces or opts.statistics):
        from pynetstat.nettools.families import said

        session.env.stderr.write("".join(said(opts, session.proc)))
    for note in dict.fromkeys(notes):
        session.env.stderr.write(note if note.endswith("\n") else f"pynetstat-netstat: {note}\n")


def write_sockets(session: Run, out: TextIO, notes: list[str]) -> None:
    from pynetstat.nettools import layout
    from pynetstat.nettools.sources import gather

    opts = session.opts
    batches, raw, groups, unix, programs, timers = gather(session, notes)
    if session.names is not None and not opts.numeric_hosts:
        session.names.resolve_hosts({a for b in batches for a in (*b.local_address, *b.remote_address)})
    endpoint = layout.Endpoints(opts, session.names)
    tail = layout.Tail(opts, programs, timers)
    if opts.inet_kinds():
        out.write(layout.inet_header(opts))
        for batch in batches:
            out.write(layout.inet_rows(batch, opts, endpoint, tail))
        out.write("".join(layout.raw_rows(raw, opts, endpoint, tail)))
    if groups is not None:
        out.write(layout.GROUPS_HEADER)
        out.write("".join(layout.group_rows(groups, endpoint)))
    if unix is not None:
        out.write(layout.unix_header(opts))
        out.write("".join(layout.unix_rows(unix, opts, programs)))
