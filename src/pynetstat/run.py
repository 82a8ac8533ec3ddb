"""Run the views the options select, once or every interval, and say what could not be seen."""

from __future__ import annotations

from pynetstat.errors import Exit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import TextIO

    from pynetstat.env import Environment
    from pynetstat.linux.connections import ConnectionSet
    from pynetstat.options import Options


class InterfaceNames:
    """ifindex -> name, asked of the kernel once per index (if_indextoname); the index itself
    when the interface is gone."""

    def __init__(self) -> None:
        self.cache: dict[int, str] = {}

    def __call__(self, index: int) -> str:
        name = self.cache.get(index)
        if name is None:
            from _socket import if_indextoname

            try:
                name = if_indextoname(index)
            except OSError:
                name = str(index)
            self.cache[index] = name
        return name


class Session:
    """What lives across displays: the netlink source, name caches."""

    def __init__(self, opts: Options, env: Environment):
        self.opts = opts
        self.env = env
        self.netlink = env.netlink_factory()
        self.ifname = InterfaceNames()
        self.names = None
        if not opts.numeric:
            from pynetstat.resolve import names_from_environ

            self.names = names_from_environ(env.environ)

    def close(self) -> None:
        self.netlink.close()


def run(opts: Options, env: Environment) -> int:
    session = Session(opts, env)
    try:
        if opts.interval is None:
            show_once(session)
            return Exit.OK
        from pynetstat.sampling import run_interval

        return run_interval(session)
    finally:
        session.close()


class NoCycleCollection:
    """``with NoCycleCollection():`` -- the cyclic garbage collector is off inside the block.

    A display makes a few objects per socket and no reference cycles; the collector would walk
    them again and again as they pile up and free nothing (a quarter of -an's time at 200k
    sockets). Reference counting still frees everything; cycles, if any, wait for the next
    collection after the block."""

    def __enter__(self) -> None:
        import gc

        self.gc = gc
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.was_enabled:
            self.gc.enable()


def show_once(session: Session) -> None:
    opts = session.opts
    with NoCycleCollection():
        if opts.ethernet or opts.statistics or opts.routes:
            from pynetstat.sections import show_sections

            show_sections(session)
        else:
            show_connections(session)


def show_connections(session: Session) -> None:
    from pynetstat.linux.connections import collect

    conns = collect(session.opts, session.env, session.netlink)
    write_connections_display(session, conns, iter(conns))
    for note in notes(conns):
        session.env.stderr.write(f"pynetstat: {note}\n")


def write_connections_display(session: Session, conns: ConnectionSet, batches: Iterable,
                              out: TextIO | None = None, json_head: dict | None = None) -> None:
    """One display of the connection table: the text table, or one JSON document, to ``out``
    (stdout). Interval mode passes its own batches (counted or kept) and a head for each line."""
    opts = session.opts
    out = session.env.stdout if out is None else out
    names = session.names
    if names is not None:
        batches = names.in_order(batches)  # each batch once its foreign hosts have answered
    if opts.json:
        from pynetstat.render.jsonout import write_connections

        owner_json = None
        if opts.executables:
            from pynetstat.render.owners import owner_json
        write_connections(out, batches, opts.wants_owners, names, session.ifname, owner_json,
                          lambda: account(conns), json_head)
    else:
        from pynetstat.render.table import ConnectionTable

        owner_lines = None
        if opts.executables:
            from pynetstat.render.owners import owner_lines
        table = ConnectionTable(out, opts, names, session.ifname, owner_lines)
        table.write_batches(batches)
        table.close()


def account(conns: ConnectionSet) -> dict:
    """What the JSON document says after its rows: sources, and everything that was not seen."""
    log = conns.log
    report = conns.owners.report if conns.owners is not None else None
    return {
        "sources": dict(log.sources),
        "fallback_reasons": dict(log.fallback_reasons),
        "netlink": {"malformed": log.netlink.malformed, "foreign": log.netlink.foreign,
                    "interrupted": log.netlink.interrupted},
        "parse_errors": [str(e) for e in log.parse_errors],
        "unreadable": dict(log.unreadable),
        "owner_scan": None if report is None else {
            "processes": report.processes, "denied": report.denied,
            "vanished": report.vanished, "fds_unreadable": report.fds_unreadable,
            "unattributed_sockets": conns.unattributed,
            "unattributed_reason": unattributed_reason(conns),
            "unreadable_processes": sum(conns.unread_processes().values()),
        },
    }


def unattributed_reason(conns: ConnectionSet) -> str | None:
    """Why some sockets have no owner: ``"permission denied"``, ``"hidepid=invisible"``, or
    ``"not held by a visible process"``; None when every socket with an inode has one."""
    if conns.owners is None or not conns.unattributed:
        return None
    report = conns.owners.report
    if report.denied:
        return "permission denied"
    return report.hidepid or "not held by a visible process"


def notes(conns: ConnectionSet) -> list[str]:
    """The stderr lines that say what could not be seen: never silent, each said once."""
    out = []
    log = conns.log
    for proto, why in log.fallback_reasons.items():
        source = log.sources.get(proto)
        if source == "netlink (incomplete)":
            out.append(f"the {proto} dump broke off ({why}): {proto} sockets after that point "
                       "are not listed")
        elif (source == "unavailable" and not proto.endswith("6")
              and not any(path.endswith(f"/net/{proto}") for path in log.unreadable)):
            # No IPv6 is a kernel's choice; no IPv4 file is a broken /proc: a loss to say.
            out.append(f"no {proto} sockets could be read: {why}, and there is no /proc/net/{proto}")
        elif conns.opts.verbose:
            # A fallback is not a loss (the rows are the same), so it is only said when asked.
            out.append(f"{proto}: read {source or 'nothing'} instead of sock_diag ({why})")
    for path, why in log.unreadable.items():
        out.append(f"cannot read {path}: {why}")
    if log.parse_errors:
        first = log.parse_errors[0]
        out.append(f"skipped {len(log.parse_errors)} malformed line(s), first: {first}")
    if log.netlink.malformed or log.netlink.foreign:
        out.append(f"dropped {log.netlink.malformed + log.netlink.foreign} malformed netlink message(s)")
    if log.netlink.interrupted:
        out.append("the kernel's socket table changed while it was dumped (NLM_F_DUMP_INTR): "
                   "a socket may be missing")
    unread = conns.unread_processes()
    if unread:
        reasons = ", ".join(f"{why}: {n}" for why, n in sorted(unread.items()))
        out.append(f"{sum(unread.values())} process(es) holding sockets could not be read "
                   f"({reasons}); their rows say \"Can not obtain ownership information\"")
    if conns.owners is not None and conns.unattributed:
        report = conns.owners.report
        n = conns.unattributed
        socks = "socket" if n == 1 else "sockets"
        if report.denied:
            import os

            advice = ("reading them needs CAP_SYS_PTRACE" if os.geteuid() == 0
                      else "run as root to see them all")
            out.append(f"{n} {socks} could not be attributed to a process: permission denied on "
                       f"the file descriptors of {report.denied} process(es); {advice}")
        elif report.hidepid:
            out.append(f"{n} {socks} could not be attributed to a process: /proc is mounted with "
                       f"{report.hidepid}, which hides other users' processes; run as root to see "
                       "them all")
        else:
            out.append(f"{n} {socks} could not be attributed to a process: no process visible "
                       "in this PID namespace holds them (or they closed during the scan)")
    return out
