"""``--close``: list the TCP connections the filters select, ask, then close them (as ``ss -K``).

The listing is the connection table a plain run with the same options prints, with the PID
column always there (the answer is about processes as much as addresses). Unless ``--yes``, one
question on stderr, the answer read from stdin (as ``rm -i`` does): only ``y`` or ``yes`` closes;
end of input or anything else closes nothing. cli.py refuses ``--close`` without a filter, so it
never closes every connection of the machine.

Each socket is closed by linux/destroy.py (SOCK_DESTROY with its cookie); the first refusal of
the kernel (no CONFIG_INET_DIAG_DESTROY, no CAP_NET_ADMIN) ends the run as one line, exit 1.
"""

from __future__ import annotations

from pynetstat.errors import Exit
from pynetstat.formats import chosen
from pynetstat.render.endpoints import PROTO_LABELS, endpoint_cells
from pynetstat.session import Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.model.sockets import InetSocket
    from pynetstat.options import Options

YES = frozenset(("y", "yes"))


def run(opts: Options, env: Environment) -> int:
    from pynetstat.linux.connections import collect
    from pynetstat.linux.destroy import CLOSED, GONE, destroy_all
    from pynetstat.views.connections import notes

    opts.pids = True
    session = Session(opts, env)
    try:
        conns = collect(opts, env, session.netlink)
        # Only TCP has connections to abort; -a's UDP rows are not offered.
        batches = [batch for batch in conns if batch.proto == "tcp" and len(batch)]
        chosen(session).write_connections(env.stdout, conns, session.in_order(iter(batches)))
        for note in notes(conns):
            session.say(note)
        targets = [sock for batch in batches for sock in batch.sockets()]
        if not targets:
            env.stdout.write("\nNo connection matches: nothing to close.\n")
            return Exit.OK
        if not opts.yes and not _confirmed(env, len(targets)):
            env.stdout.write("\nNothing closed.\n")
            return Exit.OK
        netlink: NetlinkSource = session.netlink
        results = destroy_all(netlink, targets)
        closed = sum(1 for _, result in results if result == CLOSED)
        gone = sum(1 for _, result in results if result == GONE)
        failed = [(sock, result) for sock, result in results if result not in (CLOSED, GONE)]
        lines = [f"\nClosed {closed} of {len(targets)} connection{'s' * (len(targets) != 1)}."]
        if gone:
            lines.append(f"{gone} had closed already.")
        lines += [f"Not closed: {_name(session, sock)}: {why}" for sock, why in failed]
        env.stdout.write("\n".join(lines) + "\n")
        return Exit.FAILURE if failed else Exit.OK
    finally:
        session.close()


def _name(session: Session, sock: InetSocket) -> str:
    local, remote = endpoint_cells(sock, session.ifname, None)
    return f"{PROTO_LABELS.get(sock.proto, sock.proto)} {local} {remote}"


def _confirmed(env: Environment, count: int) -> bool:
    env.stdout.flush()
    env.stderr.write(f"Close {'this connection' if count == 1 else f'these {count} connections'}"
                     "? [y/N] ")
    env.stderr.flush()
    answer = env.stdin.readline() if env.stdin is not None else ""
    if not answer.endswith("\n"):
        env.stderr.write("\n")  # end of input: the next line starts under the question
    return answer.strip().lower() in YES
