"""Command line: argv -> Options, run the chosen views, and the one place errors become messages.

The parser is written out rather than built on argparse: the spec's syntax (clustered flags such
as ``-ano``, ``-p proto``, a bare trailing interval) is small, and argparse costs about 4 ms of
start-up that a plain ``-an`` would pay on every run.
"""

from __future__ import annotations

import sys

from pynetstat import __version__
from pynetstat.errors import Exit, NoCounterpart, UsageError
from pynetstat.flags import (
    POSITIONAL,
    SHORT,
    USAGE,
    WHOLE,
    Flag,
    canonical_protocol,
    help_text,
)
from pynetstat.kinds import CONNECTION_PROTOCOLS, KINDS
from pynetstat.options import Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment

# -p values the CSV format can list (its header is the TCP/UDP row's: the inet kinds, MPTCP and
# SCTP too), and the live view (the spec's)
SPEC_OPTIONS = frozenset(kind.option for kind in KINDS if kind.spec)
INET_OPTIONS = frozenset(kind.option for kind in KINDS if kind.shape == "inet")
# the kinds of another row: named in the message that refuses them with --csv
_OTHER_SHAPES = ", ".join(dict.fromkeys(kind.label for kind in KINDS if kind.shape != "inet"))
# canonical_protocol: tests and callers have always found it here.
__all__ = ["USAGE", "canonical_protocol", "main", "parse_args"]


class _Help(Exception):
    pass


class _Version(Exception):
    pass


_ACTIONS = {"help": _Help, "version": _Version}


def _looks_numeric(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _set(fields: dict[str, object], row: Flag, text: str | None = None) -> None:
    """Record what ``row`` says: raise _Help or _Version, store True or the converted ``text``."""
    action = _ACTIONS.get(row.field)
    if action is not None:
        raise action
    if row.field == "no_counterpart":
        what = row.help.split(". ")[0].removeprefix("Windows: ")
        raise NoCounterpart(f"-{row.short} ({what}) has no Linux counterpart")
    if not row.arg:
        fields[row.field] = True
    elif row.many:
        fields[row.field] = (*fields.get(row.field, ()), (row.long, text))  # type: ignore[misc]
    elif row.join and row.field in fields:
        fields[row.field] = f"{fields[row.field]}{row.join}{text}"
    else:
        # (a row with an argument always has its text: None is only a switch's)
        fields[row.field] = text if row.convert is None or text is None else row.convert(text)


def _missing(name: str, row: Flag) -> UsageError:
    if row.field == "protocol":
        return UsageError(f"option {name} needs a protocol: " + ", ".join(CONNECTION_PROTOCOLS))
    return UsageError(f"option {name} needs a value ({row.arg})")


def parse_args(argv: list[str]) -> Options:
    """argv (without the program name) -> Options, read with the flag table (flags.FLAGS).
    Raises UsageError, _Help or _Version."""
    fields: dict[str, object] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        row = WHOLE.get(token)
        if token.startswith("--") or row is not None:
            name, eq, value = token.partition("=") if row is None else (token, "", "")
            row = WHOLE.get(name) if eq else row
            if row is None or (eq and not row.arg):
                raise UsageError(f"unknown option {token!r}")
            if row.arg and not eq and row.optional is not None and (
                    i >= len(args) or args[i].startswith("-")):
                _set(fields, row, row.optional)
                continue
            if row.arg and not eq:
                if i >= len(args):
                    raise _missing(name, row)
                value = args[i]
                i += 1
            _set(fields, row, value)
            continue
        if token.startswith("-") and len(token) > 1 and not _looks_numeric(token):
            letters = token[1:]
            for j, letter in enumerate(letters):
                row = SHORT.get(letter)
                if row is None:
                    raise UsageError(f"unknown option -{letter}" + (f" in {token!r}" if len(letters) > 1 else ""))
                if row.arg:
                    rest = letters[j + 1 :]
                    if rest:
                        value = rest
                    elif i < len(args):
                        value = args[i]
                        i += 1
                    else:
                        raise _missing(f"-{letter}", row)
                    _set(fields, row, value)
                    break
                _set(fields, row)
            continue
        if POSITIONAL.field in fields:
            raise UsageError(f"unexpected argument {token!r} (the {POSITIONAL.arg} is already given)")
        _set(fields, POSITIONAL, token)
    opts = Options(**fields)  # type: ignore[arg-type]
    if opts.protocol is not None:
        # -p's valid names depend on -s, which may come later on the line.
        opts.protocol = canonical_protocol(opts.protocol, opts.statistics)
        if not opts.statistics:
            opts.kinds = tuple(opts.protocol.split(","))
            listable = INET_OPTIONS if opts.csv else SPEC_OPTIONS
            if ((opts.csv or opts.live)
                    and opts.kinds != tuple(o for o in opts.kinds if o in listable)):
                # the CSV header and the live view's columns are the TCP/UDP row's
                raise UsageError(
                    "--csv lists TCP, UDP, MPTCP and SCTP sockets: -p " + _OTHER_SHAPES
                    + " and all go with the text table or --json" if opts.csv else
                    "--live lists TCP and UDP sockets: -p " + _OTHER_SHAPES + ", MPTCP, SCTP "
                    "and all go with the text table or --json")
    if opts.changes and opts.interval is None:
        raise UsageError("--changes needs an interval (for example: pynetstat -an --changes 2)")
    if opts.filters:
        # Only a run with a filter imports the filter code (a plain -an's start-up stays as it is).
        from pynetstat.select import parse_filter

        opts.filter = parse_filter(opts.filters)
    if opts.processes:
        if opts.changes:
            raise UsageError("-c redisplays the whole table every interval: --changes is for "
                             "the connection table and the -e, -s, -r counters")
        opts.all = opts.pids = True  # every socket, with its owners
    _check_audit(opts)
    _check_serve(opts)
    _check_csv(opts)
    _check_close(opts)
    _check_live(opts)
    _check_netns(opts)
    return opts


def _check_netns(opts: Options) -> None:
    """--netns shows one namespace in any listing mode, --serve and --live (their collectors
    read through the namespace's netlink source, as interval mode does); --all-netns shows all,
    once or every interval, with --changes and --csv (connections and sections alike), at every
    scrape of --serve, and in the live view."""
    if opts.netns is not None and opts.all_netns:
        raise UsageError("--netns cannot be combined with --all-netns")
    if opts.netns == "":
        raise UsageError("--netns needs a TARGET: an ip netns name, a PID, a path or a container")
    if not (opts.all_netns or opts.netns is not None):
        return
    name = "--netns" if opts.netns is not None else "--all-netns"
    others = [flag for flag, given in (("--audit", opts.audit), ("--snapshot", opts.snapshot),
                                       ("--diff", opts.diff),
                                       ("--close", opts.close))
              if given]
    if others:
        raise UsageError(f"{name} cannot be combined with {others[0]}")


def _check_serve(opts: Options) -> None:
    """--serve exports sockets, -s and -e at every scrape: a view, an interval or another format
    would say nothing there. The filters and -p narrow the sockets exported."""
    tls = [name for name, given in (("--serve-cert", opts.serve_cert), ("--serve-key", opts.serve_key),
                                    ("--serve-client-ca", opts.serve_client_ca)) if given]
    if opts.serve is None:
        if tls:
            raise UsageError(f"{tls[0]} goes with --serve")
        return
    if (opts.serve_cert is None) != (opts.serve_key is None):
        raise UsageError("--serve-cert and --serve-key go together")
    if opts.serve_client_ca and not opts.serve_cert:
        raise UsageError("--serve-client-ca goes with --serve-cert and --serve-key")
    others = [flag for flag, given in (("an interval", opts.interval is not None),
                                       ("-s", opts.statistics), ("-e", opts.ethernet),
                                       ("-r", opts.routes), ("--json", opts.json),
                                       ("--csv", opts.csv),
                                       ("--changes", opts.changes),
                                       ("--snapshot", opts.snapshot is not None),
                                       ("--diff", opts.diff is not None)) if given]
    if others:
        raise UsageError(f"--serve cannot be combined with {others[0]}")


def _check_csv(opts: Options) -> None:
    """CSV is one table with one header: one format, and one of the views -e, -s, -r. Each
    error is one line (it says what to do; the usage line would not help)."""
    if not opts.csv:
        return
    error = None
    views = [flag for flag, given in (("-e", opts.ethernet), ("-s", opts.statistics),
                                      ("-r", opts.routes)) if given]
    if opts.json:
        error = UsageError("--csv cannot be combined with --json: choose one output format")
    elif len(views) > 1:
        error = UsageError(f"--csv shows one view at a time: {views[0]} or {views[1]}, not "
                           "both (each has its own columns)")
    if error is not None:
        error.usage = False
        raise error


def _check_audit(opts: Options) -> None:
    """--audit, --snapshot and --diff run once and alone: one reading of every socket, judged or
    kept; a view, an interval or a protocol filter would make it say less than it seems to."""
    names = [name for name, given in (("--audit", opts.audit), ("--snapshot", opts.snapshot),
                                      ("--diff", opts.diff)) if given]
    if not names:
        return
    if opts.audit and len(names) > 1:
        raise UsageError(f"--audit cannot be combined with {names[1]}")
    others = [flag for flag, given in (("an interval", opts.interval is not None),
                                       ("-s", opts.statistics), ("-e", opts.ethernet),
                                       ("-r", opts.routes), ("-p", opts.protocol is not None),
                                       ("--changes", opts.changes)) if given]
    if others:
        raise UsageError(f"{names[0]} cannot be combined with {others[0]}")


def _check_close(opts: Options) -> None:
    """--close needs a filter (it never closes every connection of the machine) and runs once,
    alone, as text: a listing, a question, the closing."""
    if opts.yes and not opts.close:
        raise UsageError("--yes goes with --close")
    if not opts.close:
        return
    if not opts.filters:
        error = UsageError("--close needs a filter (--lport, --rport, --addr, --pid, --process, "
                           "...): it never closes every connection")
        error.usage = False
        raise error
    others = [flag for flag, given in (("an interval", opts.interval is not None),
                                       ("-s", opts.statistics), ("-e", opts.ethernet),
                                       ("-r", opts.routes), ("--changes", opts.changes),
                                       ("--json", opts.json), ("--csv", opts.csv),
                                       ("--audit", opts.audit),
                                       ("--snapshot", opts.snapshot is not None),
                                       ("--diff", opts.diff is not None),
                                       ("--serve", opts.serve is not None),
                                       ("-p " + str(opts.protocol),
                                        opts.protocol is not None
                                        and not opts.protocol.startswith("TCP"))) if given]
    if others:
        raise UsageError(f"--close cannot be combined with {others[0]}")


def _check_live(opts: Options) -> None:
    """--live shows the connection table, the counters (-s, -e: it opens on them) and the
    routes (-r) on screens of its own (its interval is the refresh); JSON, CSV and the one-shot
    modes are not part of it."""
    if not opts.live:
        return
    others = [flag for flag, given in (("--changes", opts.changes),
                                       ("--json", opts.json), ("--csv", opts.csv),
                                       ("--close", opts.close),
                                       ("--audit", opts.audit),
                                       ("--snapshot", opts.snapshot is not None),
                                       ("--diff", opts.diff is not None),
                                       ("--serve", opts.serve is not None)) if given]
    if others:
        raise UsageError(f"--live cannot be combined with {others[0]}")


# The face a program called this name shows (a link named netstat), and the switch that asks
# for it as the first argument: chosen before any parsing, never guessed from the options.
NETTOOLS_NAMES = frozenset({"netstat", "pynetstat-netstat"})
NETTOOLS_SWITCH = "--nettools"


def main(argv: list[str], env: Environment) -> int:
    """Run pynetstat with ``argv`` in ``env``; return the exit status. Every error ends here.
    ``--nettools`` as the first argument: the net-tools face reads the rest (its own grammar)."""
    if argv[:1] == [NETTOOLS_SWITCH]:
        from pynetstat.nettools.cli import main as nettools_main

        return nettools_main(argv[1:], env)
    from pynetstat.console import guarded

    return guarded(env, "pynetstat", USAGE, lambda: _run(argv, env))


def _run(argv: list[str], env: Environment) -> int:
    try:
        opts = parse_args(argv)
    except _Help:
        env.stdout.write(help_text())
        return Exit.OK
    except _Version:
        env.stdout.write(f"pynetstat {__version__}\n")
        return Exit.OK
    if opts.netns is not None:
        from pynetstat.modes.netns import entered

        env = entered(opts.netns, env)
    if opts.serve is not None:  # with --all-netns too: every namespace at every scrape
        from pynetstat.modes.serve import run
    elif opts.all_netns:
        from pynetstat.modes.allnetns import run
    elif opts.live:
        from pynetstat.modes.live import run
    elif opts.close:
        from pynetstat.modes.close import run
    elif opts.audit or opts.snapshot is not None or opts.diff is not None:
        from pynetstat.modes.audit import run
    elif opts.interval is None:
        from pynetstat.modes.once import run
    else:
        from pynetstat.modes.interval import run
    return run(opts, env)


def entry() -> None:
    """The console script: real streams, real environment, quiet on a closed pipe, one line when
    the output cannot be written. A program called ``netstat``, or ``--nettools`` as the first
    argument, runs the net-tools face (pynetstat.nettools) instead."""
    import os

    from pynetstat.console import run_console

    if os.path.basename(sys.argv[0]) in NETTOOLS_NAMES:
        from pynetstat.nettools.cli import NAME
        from pynetstat.nettools.cli import main as nettools_main

        run_console(nettools_main, sys.argv[1:], NAME)
    run_console(main, sys.argv[1:])
