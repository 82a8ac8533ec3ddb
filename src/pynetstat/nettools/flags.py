"""The net-tools face's flag table and its parser: ``netstat -tulpn`` as net-tools 2.10 reads it.

Rows have the shape of ``pynetstat.flags.Flag``, so help, the man page (pynetstat-netstat.1) and
completions are made from them as for the Windows face. The grammar is getopt's, as net-tools'
``main`` reads it: letters cluster (``-tulpn``), a letter may repeat (``-ee``: counted), long
options may be abbreviated to any unique prefix (``--numeric-h``), and ``-c`` takes no value
(net-tools waits a fixed second; here a bare number after the options sets the interval).
"""

from __future__ import annotations

from pynetstat.errors import UsageError
from pynetstat.flags import FILTER_GRAMMAR, Flag, parse_interval
from pynetstat.flags import FLAGS as WINDOWS_FLAGS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pynetstat.select import Filter

FACE = "net-tools"


def _filter_rows() -> tuple[Flag, ...]:
    """The Windows face's filter rows (issue 14), the same names, values and meanings; only
    ``--interface``'s help names this face's interface views (-i, -r, -g) instead of -e, -r."""
    rows = []
    for row in WINDOWS_FLAGS:
        if row.field != "filters":
            continue
        text = row.help
        if row.long == "interface":
            text = text.replace("with -e and -r", "with -i, -r and -g")
        text = text.replace("as -b names it", "as pynetstat -b names it")
        rows.append(Flag(row.field, text, long=row.long, arg=row.arg, many=True))
    return tuple(rows)


# Help lists the rows in this order; the field is a NetToolsOptions attribute.
FLAGS: tuple[Flag, ...] = (
    Flag("route", "display routing table (route -n layout)", short="r", long="route"),
    Flag("interfaces", "display interface table (-e: ifconfig's long form)", short="i",
         long="interfaces"),
    Flag("groups", "display multicast group memberships", short="g", long="groups"),
    Flag("statistics", "display networking statistics (like SNMP); -t, -u, -w: those only",
         short="s", long="statistics"),
    Flag("verbose", "be verbose: say which address families net-tools would list are missing "
         "here, and which have sockets this face does not list (UDP-Lite, SCTP, ...)", short="v",
         long="verbose"),
    Flag("wide", "don't truncate IP addresses", short="W", long="wide", aliases=("notrim",)),
    Flag("numeric", "don't resolve names", short="n", long="numeric"),
    Flag("numeric_hosts", "don't resolve host names", long="numeric-hosts"),
    Flag("numeric_ports", "don't resolve port names", long="numeric-ports"),
    Flag("numeric_users", "don't resolve user names", long="numeric-users"),
    Flag("extend", "display other/more information (User, Inode); twice: more", short="e",
         long="extend"),
    Flag("programs", "display PID/Program name for sockets", short="p", long="programs"),
    Flag("timers", "display timers", short="o", long="timers"),
    Flag("continuous", "continuous listing, every second or every interval seconds", short="c",
         long="continuous"),
    Flag("listening", "display listening server sockets", short="l", long="listening"),
    Flag("all", "display all sockets (default: connected)", short="a", long="all"),
    Flag("tcp", "TCP sockets", short="t", long="tcp"),
    Flag("udp", "UDP sockets", short="u", long="udp"),
    Flag("raw", "RAW sockets", short="w", long="raw"),
    Flag("unix", "UNIX domain sockets", short="x", long="unix"),
    Flag("inet", "IPv4 only", short="4", long="inet"),
    Flag("inet6", "IPv6 only", short="6", long="inet6"),
    Flag("interval", "seconds between listings with -c (fractions allowed; default 1)",
         arg="interval", convert=parse_interval),
    Flag("json", "print JSON instead of the net-tools layout", long="json"),
    *_filter_rows(),
    Flag("help", "show this help", short="h", long="help", hidden=("-?",)),
    Flag("version", "show the version", short="V", long="version"),
)

SHORT = {row.short: row for row in FLAGS if row.short}
LONG = {name[2:]: row for row in FLAGS for name in row.long_names}
POSITIONAL = next(row for row in FLAGS if row.positional)
# Switches counted rather than set (net-tools' flag_exp: -e is 2, -ee 3).
COUNTED = frozenset({"extend"})


class NetToolsOptions:
    """The typed options of a net-tools face run (``parse_args`` makes it)."""

    __slots__ = (*dict.fromkeys(row.field for row in FLAGS if row.field not in ("help", "version")),
                 "filter")
    _DEFAULTS = {"interval": None, "filters": (), "filter": None, **dict.fromkeys(COUNTED, 0)}
    if TYPE_CHECKING:  # the slots' types, for mypy (the slots come from FLAGS)
        route: bool
        interfaces: bool
        groups: bool
        statistics: bool
        verbose: bool
        wide: bool
        numeric: bool
        numeric_hosts: bool
        numeric_ports: bool
        numeric_users: bool
        extend: int
        programs: bool
        timers: bool
        continuous: bool
        listening: bool
        all: bool
        tcp: bool
        udp: bool
        raw: bool
        unix: bool
        inet: bool
        inet6: bool
        interval: float | None
        json: bool
        filters: tuple[tuple[str, str], ...]
        filter: Filter | None

    def __init__(self, **given: object):
        for name in self.__slots__:
            setattr(self, name, given.get(name, self._DEFAULTS.get(name, False)))
        if self.numeric:
            self.numeric_hosts = self.numeric_ports = self.numeric_users = True

    @property
    def socket_kinds(self) -> bool:
        """Was any socket kind named (net-tools' flag_arg)?"""
        return self.tcp or self.udp or self.raw or self.unix or self.groups

    @property
    def families(self) -> tuple[int, ...]:
        """The address families listed: -4, -6, or both."""
        if self.inet or self.inet6:
            return tuple(f for f, on in ((4, self.inet), (6, self.inet6)) if on)
        return (4, 6)

    def inet_kinds(self) -> tuple[str, ...]:
        """Which of tcp, udp, raw to list. Nothing named lists them all (UNIX too, unless -4 or
        -6 asked for an address family: net-tools' ``flag_noprot``)."""
        named = tuple(k for k in ("tcp", "udp", "raw") if getattr(self, k))
        if named or (self.socket_kinds and not (self.inet or self.inet6)):
            return named
        return ("tcp", "udp", "raw")

    @property
    def lists_unix(self) -> bool:
        return self.unix or not (self.socket_kinds or self.inet or self.inet6)

    @property
    def wants_owners(self) -> bool:
        return self.programs

    def __repr__(self) -> str:
        return "NetToolsOptions(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


class Help(Exception):
    pass


class Version(Exception):
    pass


def _long(token: str) -> tuple[Flag, str | None]:
    """``--numeric-h`` -> its row (getopt_long: a unique prefix names an option)."""
    name, eq, value = token[2:].partition("=")
    row = LONG.get(name)
    if row is None:
        found = {id(r): r for n, r in LONG.items() if n.startswith(name)} if name else {}
        if len(found) != 1:
            raise UsageError(f"unrecognized option '{token}'" if not found
                             else f"option '{token}' is ambiguous")
        row = next(iter(found.values()))
    if eq and not row.arg:
        raise UsageError(f"option '--{name}' doesn't allow an argument")
    return row, value if eq else None


def _store(fields: dict[str, Any], row: Flag) -> None:
    if row.field == "help":
        raise Help
    if row.field == "version":
        raise Version
    fields[row.field] = fields.get(row.field, 0) + 1 if row.field in COUNTED else True


def parse_args(argv: list[str]) -> NetToolsOptions:
    """argv (without the program name) -> NetToolsOptions. Raises UsageError, Help, Version.

    >>> parse_args(["-tulpn"]).programs
    True
    >>> parse_args(["-ee"]).extend
    2
    """
    fields: dict[str, Any] = {}  # NetToolsOptions' keywords
    args = iter(argv)
    for token in args:
        if token.startswith("--") and len(token) > 2:
            row, value = _long(token)
            if row.many:  # a filter: --port 80 or --port=80, as getopt_long's required_argument
                if value is None:
                    value = next(args, None)
                    if value is None:
                        raise UsageError(f"option '--{row.long}' requires an argument")
                fields[row.field] = (*fields.get(row.field, ()), (row.long, value))
            elif row.arg:
                if value is None:
                    fields[row.field] = True
                else:
                    fields[row.field] = value if row.convert is None else row.convert(value)
            else:
                _store(fields, row)
        elif token in ("-?",):
            raise Help
        elif token.startswith("-") and len(token) > 1:
            for letter in token[1:]:
                letter_row = SHORT.get(letter)
                if letter_row is None:
                    raise UsageError(f"invalid option -- '{letter}'")
                _store(fields, letter_row)
        else:
            if "interval" in fields:
                raise UsageError(f"unexpected argument {token!r}")
            convert = POSITIONAL.convert
            fields["interval"] = token if convert is None else convert(token)
    opts = NetToolsOptions(**fields)
    if sum(map(bool, (opts.route, opts.interfaces, opts.statistics))) > 1:
        raise UsageError("-r, -i and -s cannot be combined")
    if opts.interval is not None:
        opts.continuous = True
    if opts.filters:
        # The Windows face's filters (select.py), imported only when one is given.
        from pynetstat.model.filters import States
        from pynetstat.select import parse_filter

        opts.filter = parse_filter(opts.filters)
        if any(isinstance(term, States) for term in opts.filter.terms):
            # A --state lists every state, as -a does, before it keeps its own (docs/filters.md)
            opts.all = True
    return opts


USAGE = ("usage: netstat [-vWnceaolp] [-4|-6] [-t] [-u] [-w] [-x] [--json] [interval]\n"
         "                [--FILTER [!]VALUE[,...]]...\n"
         "       netstat [-vWeenc] -r | [-vWeenac] -i | -g [-n] | -s [-6tuw]\n"
         "       netstat {-V|--version|-h|--help}")


def help_text() -> str:
    """``--help``: which face this is, how to reach the other, then every row."""
    import textwrap

    lines = [
        "pynetstat-netstat: the Linux net-tools netstat face of pynetstat (as net-tools 2.10).",
        "The Windows netstat face is `pynetstat` (there -p means protocol, here program).",
        "",
        *USAGE.split("\n"),
        "",
    ]
    for row in FLAGS:
        label = row.label if not row.positional else f"[{row.arg}]"
        lines.append(f"        {label:<24} {row.help}")
    lines += ["",
              "  <Socket>={-t|--tcp} {-u|--udp} {-w|--raw} {-x|--unix}",
              "  <AF>=Use '-6|-4'; default: both",
              "",
              *textwrap.wrap(FILTER_GRAMMAR, 96, initial_indent="  ", subsequent_indent="  "),
              "",
              "Chosen by name: the pynetstat-netstat script, a link named netstat to it",
              "(ln -s \"$(command -v pynetstat-netstat)\" ~/.local/bin/netstat), or",
              "`pynetstat --nettools ARGS`."]
    return "\n".join(lines) + "\n"
