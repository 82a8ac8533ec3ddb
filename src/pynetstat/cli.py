"""Command line: argv -> Options, run the chosen views, and the one place errors become messages.

The parser is written out rather than built on argparse: the spec's syntax (clustered flags such
as ``-ano``, ``-p proto``, a bare trailing interval) is small, and argparse costs about 4 ms of
start-up that a plain ``-an`` would pay on every run.
"""

from __future__ import annotations

import sys

from pynetstat import __version__
from pynetstat.errors import Exit, OutputError, PynetstatError, UsageError
from pynetstat.kinds import CONNECTION_PROTOCOLS
from pynetstat.options import STATISTICS_PROTOCOLS, Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment

USAGE = ("usage: pynetstat [-a] [-b] [-e] [-n] [-o] [-p proto] [-r] [-s] [-v] "
         "[--json] [--changes] [interval]")

# letter -> (Options field, help). The help text below is built from this table.
FLAGS = {
    "a": ("all", "Displays all connections and listening ports (TCP listeners and UDP sockets)."),
    "b": ("executables", "Displays the executable involved in each connection or listening port, "
          "under the row: the systemd unit or container running it, then [executable]. Reads "
          "/proc/PID/exe; other users' processes need root (\"Can not obtain ownership information\")."),
    "e": ("ethernet", "Displays interface statistics (all interfaces summed; -v: per interface). "
          "May be combined with -s. Non-unicast packets is the driver's multicast count (veth and "
          "lo count none: their broadcasts are under Unicast packets)."),
    "n": ("numeric", "Displays addresses and port numbers in numerical form."),
    "o": ("pids", "Displays the owning process ID of each connection (one number: the lowest "
          "PID when several processes hold the socket; -b lists each, --json gives every owner; "
          "\"-\": no visible owner)."),
    "r": ("routes", "Displays the routing table (main table; -v: every table)."),
    "s": ("statistics", "Displays per-protocol statistics (IP, IPv6, ICMP, ICMPv6, TCP, UDP); "
          "-v adds the kernel's counters the lines do not show."),
    "v": ("verbose", "With -b: the whole sequence (process ancestry, cgroup path) for every "
          "executable. With -s, -e, -r: more detail."),
}
LONG_FLAGS = {"--all": "all", "--executables": "executables", "--ethernet": "ethernet",
              "--numeric": "numeric", "--pids": "pids", "--routes": "routes",
              "--statistics": "statistics", "--verbose": "verbose", "--json": "json",
              "--changes": "changes"}


_HELP_ROWS = [
    ("-a", FLAGS["a"][1]),
    ("-b", FLAGS["b"][1]),
    ("-e", FLAGS["e"][1]),
    ("-n", FLAGS["n"][1]),
    ("-o", FLAGS["o"][1]),
    ("-p proto", "Shows connections for proto: TCP, UDP, TCPv6 or UDPv6. With -s: IP, IPv6, "
     "ICMP, ICMPv6, TCP, TCPv6, UDP or UDPv6. Case does not matter."),
    ("-r", FLAGS["r"][1]),
    ("-s", FLAGS["s"][1]),
    ("-v", FLAGS["v"][1]),
    ("interval", "Redisplays the selected view every interval seconds (fractions allowed) until "
     "Ctrl+C. Without it, pynetstat prints once."),
    ("--json", "Prints JSON instead of text (JSON Lines with an interval). Schema: docs/json.md."),
    ("--changes", "With an interval: after the first display, only what changed."),
    ("-h, --help", "Shows this help."),
    ("--version", "Shows the version."),
]


def help_text() -> str:
    import textwrap

    lines = [
        "Displays protocol statistics and current TCP/IP network connections, read from the",
        "Linux kernel (netlink, /proc).",
        "",
        USAGE,
        "",
    ]
    for label, text in _HELP_ROWS:
        lines += textwrap.wrap(text, 78, initial_indent=f"  {label:<14}", subsequent_indent=" " * 16)
    lines += [
        "",
        "Exit status: 0 ok, 1 the kernel could not be read, 2 bad command line, 130 Ctrl+C,",
        "143 SIGTERM, 141 output closed early.",
        "Environment: PYNETSTAT_PROC_ROOT (read another /proc tree), PYNETSTAT_RESOLVE_BUDGET",
        "(seconds allowed for host name lookups without -n, default 2), NO_COLOR.",
    ]
    return "\n".join(lines) + "\n"


class _Help(Exception):
    pass


class _Version(Exception):
    pass


def parse_interval(text: str) -> float:
    """``"5" -> 5.0``, ``"0.5" -> 0.5``; zero, negative, infinite or not a number is a UsageError."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"invalid interval {text!r}: expected a positive number of seconds") from None
    if not (value > 0) or value == float("inf"):
        raise UsageError(f"invalid interval {text!r}: expected a positive number of seconds")
    return value


def _looks_numeric(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_args(argv: list[str]) -> Options:
    """argv (without the program name) -> Options. Raises UsageError, _Help or _Version."""
    fields: dict[str, object] = {}
    protocol_text: str | None = None
    interval: float | None = None
    args = list(argv)
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token in ("-h", "--help", "-?", "/?"):
            raise _Help
        if token == "--version":
            raise _Version
        if token.startswith("--"):
            name, eq, value = token.partition("=")
            if name == "--proto" or name == "--protocol":
                if not eq:
                    if i >= len(args):
                        raise UsageError(f"option {name} needs a protocol")
                    value = args[i]
                    i += 1
                protocol_text = value
                continue
            field = LONG_FLAGS.get(token)
            if field is None:
                raise UsageError(f"unknown option {token!r}")
            fields[field] = True
            continue
        if token.startswith("-") and len(token) > 1 and not _looks_numeric(token):
            letters = token[1:]
            for j, letter in enumerate(letters):
                if letter == "p":
                    rest = letters[j + 1 :]
                    if rest:
                        protocol_text = rest
                    elif i < len(args):
                        protocol_text = args[i]
                        i += 1
                    else:
                        raise UsageError("option -p needs a protocol: " + ", ".join(CONNECTION_PROTOCOLS))
                    break
                field = FLAGS.get(letter, (None,))[0]
                if field is None:
                    raise UsageError(f"unknown option -{letter}" + (f" in {token!r}" if len(letters) > 1 else ""))
                fields[field] = True
            continue
        if interval is not None:
            raise UsageError(f"unexpected argument {token!r} (the interval is already given)")
        interval = parse_interval(token)
    opts = Options(**fields, interval=interval)  # type: ignore[arg-type]
    if protocol_text is not None:
        opts.protocol = canonical_protocol(protocol_text, opts.statistics)
    if opts.changes and opts.interval is None:
        raise UsageError("--changes needs an interval (for example: pynetstat -an --changes 2)")
    return opts


def canonical_protocol(text: str, statistics: bool) -> str:
    """``"tcpv6" -> "TCPv6"``; outside the spec's list for the mode: UsageError naming the valid values."""
    valid = STATISTICS_PROTOCOLS if statistics else CONNECTION_PROTOCOLS
    for name in valid:
        if name.lower() == text.lower():
            return name
    mode = " with -s" if statistics else ""
    raise UsageError(f"unknown protocol {text!r}{mode}: expected one of {', '.join(valid)}")


def main(argv: list[str], env: Environment) -> int:
    """Run pynetstat with ``argv`` in ``env``; return the exit status. Every error ends here."""
    try:
        try:
            opts = parse_args(argv)
        except _Help:
            env.stdout.write(help_text())
            return Exit.OK
        except _Version:
            env.stdout.write(f"pynetstat {__version__}\n")
            return Exit.OK
        if opts.interval is None:
            from pynetstat.modes.once import run
        else:
            from pynetstat.modes.interval import run
        return run(opts, env)
    except UsageError as e:
        _complain(env, f"pynetstat: {e}\n{USAGE}\n")
        return e.exit_status
    except PynetstatError as e:
        _complain(env, f"pynetstat: {e}\n")
        return e.exit_status
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except BrokenPipeError:
        return Exit.BROKEN_PIPE


# Exit statuses after which what is left in stdout's buffer is dropped: the reader left, or a
# signal ended the run (which must end now, whatever the reader does; docs/interval.md).
_UNFLUSHED = (Exit.BROKEN_PIPE, Exit.INTERRUPTED, Exit.TERMINATED)


def _complain(env: Environment, text: str) -> None:
    """The one line that says why the run failed, if there is a stderr to say it on."""
    try:
        env.stderr.write(text)
        env.stderr.flush()
    except (OSError, OutputError):
        pass


def entry() -> None:
    """The console script: real streams, real environment, quiet on a closed pipe, one line when
    the output cannot be written."""
    from pynetstat.env import Environment

    env = Environment.from_process()
    try:
        status = main(sys.argv[1:], env)
        if status not in _UNFLUSHED:
            env.stdout.flush()
    except BrokenPipeError:
        status = Exit.BROKEN_PIPE
    except KeyboardInterrupt:
        status = Exit.INTERRUPTED
    except OutputError as e:
        _complain(env, f"pynetstat: {e}\n")
        status = e.exit_status
    if (status in _UNFLUSHED or env.stdout.failed) and sys.stdout is not None:
        # Python flushes stdout once more at exit, which would fail again (and print "Exception
        # ignored"), or after a signal wait on a reader that stopped reading, or add to a line
        # that the signal cut: what is left in its buffer is not written: point it at /dev/null.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(status)
