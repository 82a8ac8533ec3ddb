"""The flag table: every option pynetstat takes, written once.

``cli.parse_args`` reads argv with it, ``help_text`` prints ``--help`` from it, and
tools/gen_docs.py writes the man page (pynetstat.1) and the bash, zsh and fish completions
(completions/) from it; tests/test_flags.py regenerates those and compares them with the files.
A new option is a row here (plus, if it takes a value that needs checking, a ``convert``).

The module is imported on every run: plain data and one small class, nothing else.
"""

from __future__ import annotations

from pynetstat.errors import UsageError
from pynetstat.kinds import CONNECTION_PROTOCOLS
from pynetstat.options import STATISTICS_PROTOCOLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Flag:
    """One option. ``field`` is the Options field it sets (``True`` for a switch, the converted
    value for one that takes an argument), or ``"help"`` / ``"version"`` for the two that print
    and exit. A row with neither ``short`` nor ``long`` is the positional argument."""

    __slots__ = ("field", "short", "long", "aliases", "arg", "help", "choices", "convert", "hidden",
                 "many", "join", "optional", "complete")

    def __init__(self, field: str, help: str, *, short: str = "", long: str = "",
                 aliases: tuple[str, ...] = (), arg: str = "", choices: tuple[str, ...] = (),
                 convert: Callable[[str], object] | None = None, hidden: tuple[str, ...] = (),
                 many: bool = False, join: str = "", optional: str | None = None, complete: str = ""):
        self.field = field
        self.help = help
        self.short = short  # the letter after "-": "a"
        self.long = long  # the long name shown beside the letter in --help: "help" for "-h, --help"
        self.aliases = aliases  # further long names, accepted and listed as long forms: ("all",)
        self.arg = arg  # the argument's name ("proto"); "" for a switch
        self.choices = choices  # the values a shell completes for the argument
        self.convert = convert  # argument text -> value (raises UsageError); None: the text itself
        self.hidden = hidden  # whole tokens accepted and never listed ("/?")
        # each occurrence adds ``(long, text)`` to the field's tuple, in command-line order
        self.many = many
        # given again, its text is joined to the earlier one with this ("-p tcp -p unix" reads
        # as "-p tcp,unix"); "": the last one counts
        self.join = join
        # the value when the argument is left out (``--serve`` alone): the argument is then taken
        # only as ``--serve=VALUE`` or from a next word that does not start with "-"
        self.optional = optional
        # what a shell offers for a filter's items, named here and made by tools/gen_docs.py
        # (COMPLETERS): "states" (the names and groups --state takes), "users", "pids",
        # "interfaces" (what the shell finds on the machine when asked)
        self.complete = complete

    @property
    def arg_text(self) -> str:
        """The argument as --help, the usage line and the man page show it: ``[ADDR:PORT]`` when
        it may be left out."""
        return f"[{self.arg}]" if self.optional is not None and self.arg else self.arg

    @property
    def label(self) -> str:
        """How --help names it: ``-a``, ``-p proto``, ``--json``, ``-h, --help``, ``interval``."""
        names = ", ".join(([f"-{self.short}"] if self.short else [])
                          + ([f"--{self.long}"] if self.long else []))
        return f"{names} {self.arg_text}".strip()

    @property
    def long_names(self) -> tuple[str, ...]:
        """``("--proto", "--protocol")``: every long spelling."""
        return tuple(f"--{name}" for name in (*((self.long,) if self.long else ()), *self.aliases))

    @property
    def positional(self) -> bool:
        return not self.short and not self.long and not self.aliases


def parse_interval(text: str) -> float:
    """``"5" -> 5.0``, ``"0.5" -> 0.5``; zero, negative, infinite or not a number is a UsageError.

    >>> parse_interval("0.5")
    0.5
    """
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"invalid interval {text!r}: expected a positive number of seconds") from None
    if not (value > 0) or value == float("inf"):
        raise UsageError(f"invalid interval {text!r}: expected a positive number of seconds")
    return value


SERVE_DEFAULT = "127.0.0.1:9817"  # --serve alone: loopback only, the port the README gives


def parse_listen(text: str) -> tuple[str, int]:
    """``--serve``'s ``ADDR:PORT`` (``[::1]:9817`` for IPv6, ``PORT`` alone on 127.0.0.1): a
    numeric address (never a name to resolve) and a port 1-65535; anything else is a UsageError.

    >>> parse_listen("[::1]:9100")
    ('::1', 9100)
    """
    from socket import AF_INET, AF_INET6, inet_pton

    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = SERVE_DEFAULT.partition(":")[0], text
    family = AF_INET
    if host.startswith("[") and host.endswith("]"):
        host, family = host[1:-1], AF_INET6
    why = None
    try:
        inet_pton(family, host)
    except (OSError, ValueError):
        why = "a numeric IPv4 address or [IPv6] address"
    if why is None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        why = "a port from 1 to 65535"
    if why is not None:
        raise UsageError(f"invalid --serve address {text!r}: expected ADDR:PORT with {why} "
                         f"(default {SERVE_DEFAULT})")
    return host, int(port)


def canonical_protocol(text: str, statistics: bool) -> str:
    """``"tcpv6" -> "TCPv6"``; outside the list for the mode: UsageError naming the valid values.
    The connection table takes a comma list (``"tcp,unix" -> "TCP,UNIX"``); -s takes one.

    >>> canonical_protocol("icmpv6", statistics=True)
    'ICMPv6'
    >>> canonical_protocol("udp,Unix", statistics=False)
    'UDP,UNIX'
    """
    valid = STATISTICS_PROTOCOLS if statistics else CONNECTION_PROTOCOLS
    mode = " with -s" if statistics else ""
    names = text.split(",")
    if statistics and len(names) > 1:
        raise UsageError(f"-s takes one protocol, not {text!r}: expected one of {', '.join(valid)}")
    out = []
    for given in names:
        for name in valid:
            if name.lower() == given.lower():
                out.append(name)
                break
        else:
            raise UsageError(f"unknown protocol {given!r}{mode}: expected one of {', '.join(valid)}")
    return ",".join(out)


def _either(names: tuple[str, ...]) -> str:
    """``("TCP", "UDP", "TCPv6")`` -> ``"TCP, UDP or TCPv6"``."""
    return ", ".join(names[:-1]) + " or " + names[-1]


FILE = "FILE"  # the argument name of a row that takes a file: completions offer file names

# Help, man page and completions list the rows in this order.
# The filters whose items a shell can offer (Flag.complete).
_COMPLETE = {"state": "states", "user": "users", "pid": "pids", "interface": "interfaces"}

FLAGS: tuple[Flag, ...] = (
    Flag("all", "Displays all connections and listening ports (TCP listeners and UDP sockets).",
         short="a", aliases=("all",)),
    Flag("bound", "Displays all connections, listening ports, and bound nonlistening TCP ports "
         "(state BOUND). Linux lists those since 6.8 (sock_diag); an older kernel cannot, and a "
         "note says so.", short="q", aliases=("bound",)),
    Flag("processes", "Displays the processes holding TCP and UDP ports, sorted by the number "
         "of ports each holds (listening, connected and unconnected sockets alike), most first. "
         "With --info: the bytes their TCP connections moved, and with an interval per second "
         "since the pass before, busiest first.", short="c", aliases=("processes",)),
    Flag("executables", "Displays the executable involved in each connection or listening port, "
         "under the row: the systemd unit or container running it, then [executable]; for a TCP, "
         "MPTCP or UDP connection whose other end is on this host, first that end's process "
         "(-> postgres 455, <- psql 812). Reads "
         "/proc/PID/exe; other users' processes need root (\"Can not obtain ownership information\").",
         short="b", aliases=("executables",)),
    Flag("ethernet", "Displays interface statistics (all interfaces summed; -v: per interface). "
         "May be combined with -s. Non-unicast packets is the driver's multicast count (veth and "
         "lo count none: their broadcasts are under Unicast packets).", short="e", aliases=("ethernet",)),
    Flag("fqdn", "Displays fully qualified domain names for foreign addresses (without it, a "
         "name's first label: db1 for db1.example.com; --json always gives the full name).",
         short="f", aliases=("fqdn",)),
    Flag("times", "Under each row, the times Linux keeps, each named for what it is: the time "
         "left on the socket's timer (retransmission, keepalive or FIN_WAIT_2, TIME_WAIT, "
         "zero-window probe) and, for TCP connections, the time since the last data sent, the "
         "last data received and the last ACK received. Linux does not record when a socket "
         "entered its state, so no time in state is shown; with an interval, how long this run "
         "has seen the socket in its state (in state >= 12.0s (seen by this run): a lower "
         "bound, from the second pass that sees it in it).", short="i", aliases=("times",)),
    Flag("numeric", "Displays addresses and port numbers in numerical form.",
         short="n", aliases=("numeric",)),
    Flag("pids", "Displays the owning process ID of each connection (one number: the lowest "
         "PID when several processes hold the socket; -b lists each, --json gives every owner; "
         "\"-\": no visible owner).", short="o", aliases=("pids",)),
    Flag("protocol", f"Shows connections for proto: {_either(CONNECTION_PROTOCOLS)} (every "
         "kind); a comma list or -p again for several. Without -p: TCP and UDP. With -s: "
         f"{_either(STATISTICS_PROTOCOLS)}. Case does not matter.",
         short="p", aliases=("proto", "protocol"), arg="proto", join=",",
         # The text is checked once -s is known: cli.parse_args calls canonical_protocol.
         choices=tuple(dict.fromkeys(CONNECTION_PROTOCOLS + STATISTICS_PROTOCOLS))),
    Flag("routes", "Displays the routing table (main table; -v: every table).",
         short="r", aliases=("routes",)),
    Flag("statistics", "Displays per-protocol statistics (IP, IPv6, ICMP, ICMPv6, TCP, UDP); "
         "-v adds the kernel's counters the lines do not show.", short="s", aliases=("statistics",)),
    Flag("verbose", "With -b: the whole sequence (process ancestry, cgroup path) for every "
         "executable. With -s, -e, -r: more detail.", short="v", aliases=("verbose",)),
    Flag("interval", "Redisplays the selected view every interval seconds (fractions allowed) "
         "until Ctrl+C. Without it, pynetstat prints once.", arg="interval", convert=parse_interval),
    Flag("json", "Prints JSON instead of text (JSON Lines with an interval). Schema: docs/json.md.",
         long="json"),
    Flag("csv", "Prints CSV instead of text: a header row, then one record per row (RFC 4180; "
         "one of -e, -s, -r at a time; with an interval one header, then rows with timestamp "
         "and pass; --info, --timers, --memory: a column per field). Not with --json. "
         "Columns: docs/csv.md.", long="csv"),
    Flag("changes", "With an interval: after the first display, only what changed.", long="changes"),
    # TCP internals per connection (issue 13, docs/tcpinfo.md): asked of the kernel only when given.
    Flag("dscp", "Under each row, the DSCP of the packets the socket sends (dscp:46 is "
         "Expedited Forwarding), from its IPv4 TOS or IPv6 traffic class.", short="d",
         aliases=("dscp",)),
    Flag("info", "Under each TCP row, what the kernel knows of the connection (what ss prints "
         "for its info option): congestion algorithm, window scale, rto, rtt/rttvar (ms), mss, cwnd, ssthresh, bytes "
         "sent, acked and received, segments, last send/receive/ack (ms ago), pacing and "
         "delivery rate, retransmissions (now/total), lost. --json: every tcp_info field. "
         "With an interval also the bytes per second sent (acked) and received over the last "
         "pass (rate: send 409612 B/s recv 0 B/s; rate: (new) before a connection's second "
         "reading).", long="info"),
    Flag("timers", "Under each row, the socket's pending timer and when it fires, in ss's words: "
         "timer:(on|keepalive|timewait|persist|delack,time left,retransmissions).",
         long="timers"),
    Flag("memory", "Under each row, the socket's memory, in ss's words: skmem:(r received, rb "
         "receive buffer, t sent, tb send buffer, f forward alloc, w queued, o options, bl "
         "backlog, d drops).", long="memory"),
    # Filters (issue 14, docs/filters.md): each row's long name is a parser of select.OPTIONS.
    *(Flag("filters", help, long=name, arg=arg, many=True, complete=_COMPLETE.get(name, ""))
      for name, arg, help in (
        ("state", "STATE", "Only sockets in these states: netstat, Linux or ss names "
         "(LISTENING, listen, syn-sent, time-wait, ...) or ss's groups all, connected, "
         "synchronized, bucket, big. Lists every state, as with -a, before it filters."),
        ("port", "PORT", "Only sockets with one of these ports on either end: 443, a range "
         "8000-8099, a service name (https)."),
        ("lport", "PORT", "Only sockets with one of these local ports."),
        ("rport", "PORT", "Only sockets with one of these foreign ports."),
        ("addr", "CIDR", "Only sockets with an address in one of these on either end: "
         "10.0.0.0/8, ::1, fe80::/64%eth0 (IPv4 also matches IPv4-mapped IPv6)."),
        ("local", "CIDR", "Only sockets whose local address is in one of these."),
        ("remote", "CIDR", "Only sockets whose foreign address is in one of these."),
        ("interface", "NAME", "Only sockets bound to one of these interfaces or to one of "
         "their addresses; with -e and -r, only their rows."),
        ("user", "USER", "Only sockets owned by one of these users (a name or a UID)."),
        ("pid", "PID", "Only sockets held by one of these processes (reads only their fds)."),
        ("process", "NAME", "Only sockets held by a process of this name or executable file "
         "name (shell wildcards: 'python3*')."),
        ("unit", "UNIT", "Only sockets held by a process of this systemd unit (nginx.service, "
         "shell wildcards)."),
        ("container", "NAME", "Only sockets held by a process of this container, as -b names "
         "it (docker:9ec39b91f3d7), its id or a prefix of 4 or more digits, or its pod UID."),
    )),
    # The audit (issue 16, docs/audit.md): each runs once, alone (no interval, -e, -s, -r).
    Flag("audit", "Checks the processes with network sockets for signs of compromise (a deleted "
         "or in-memory executable, a shell on a socket, a name that lies, a sniffer, a hidden "
         "socket, ...) and prints each finding with its evidence; exit status 3 for an alert, "
         "4 for a warning. With --json, one JSON document. Needs root to see every process.",
         long="audit"),
    Flag("snapshot", "Writes a baseline to FILE (JSON: listeners, executables with sockets and "
         "the SHA-256 of those that listen, remote destinations); replaces FILE whole or not at "
         "all. With --diff, compares first, then writes.", long="snapshot", arg=FILE),
    Flag("diff", "Compares now against the baseline in FILE: new and gone listeners, a "
         "listener's executable changed, new executables and destinations; exit status 5 when "
         "anything differs.", long="diff", arg=FILE),
    # Windows flags for what Linux does not have: one line says so, exit 2 (cli._set).
    Flag("no_counterpart", "Windows: the offload state of each connection. Linux has no "
         "counterpart (it does not offload TCP connections to the NIC): exit status 2.", short="t"),
    Flag("no_counterpart", "Windows: NetworkDirect connections, listeners and shared endpoints. "
         "Linux has no counterpart (RDMA is not a TCP/IP socket): exit status 2.", short="x"),
    Flag("no_counterpart", "Windows: the TCP connection template of every connection. Linux "
         "has no counterpart (per-route settings are in ip route): exit status 2.", short="y"),
    Flag("serve", "Serves Prometheus metrics over HTTP at /metrics on ADDR:PORT (default "
         f"{SERVE_DEFAULT}, loopback only): sockets by state, listeners with their programs, "
         "per-program sockets and queues, the -s and -e counters, computed at each scrape; the "
         "filters narrow the sockets exported; --info adds per-program TCP bytes and "
         "retransmissions, --audit the audit's findings, --all-netns every network namespace "
         "(a netns label on each series). Needs pip install 'pynetstat[exporter]'. "
         "Metrics: docs/metrics.md.", long="serve", arg="ADDR:PORT", convert=parse_listen,
         optional=SERVE_DEFAULT),
    Flag("serve_cert", "With --serve: serves HTTPS with this certificate (PEM; --serve-key "
         "names its private key).", long="serve-cert", arg=FILE),
    Flag("serve_key", "With --serve-cert: the certificate's private key (PEM).",
         long="serve-key", arg=FILE),
    Flag("serve_client_ca", "With --serve-cert: only clients with a certificate signed by "
         "these CAs (PEM) may scrape (mutual TLS).", long="serve-client-ca", arg=FILE),
    # Closing connections (issue 20): SOCK_DESTROY, as ss -K; never without a filter.
    Flag("close", "Closes the TCP connections the filters select (at least one filter is "
         "required): lists them, asks for confirmation, then aborts each in the kernel "
         "(sock_diag SOCK_DESTROY, as ss -K; the owner sees ECONNABORTED, the peer a reset). "
         "Needs root and a kernel with CONFIG_INET_DIAG_DESTROY.", long="close"),
    Flag("yes", "With --close: close without asking.", long="yes"),
    Flag("live", "A full-screen live view of the connections (with -a, -n, the filters; the "
         "interval, default 1 s, is its refresh): new rows green, closed red, changed yellow; "
         "keys 1-6 sort, / filter, p pause, Enter details, c close, v next screen (counters "
         "of -s and -e with rates and sparklines, routes of -r; -s, -e or -r opens on it), "
         "q quit. With --info: Send/s, Recv/s, RTT columns; with --all-netns a Namespace "
         "column (close goes through the row's namespace). Needs the live "
         "extra: pip install 'pynetstat[live]'. docs/live.md.", long="live"),
    # Network namespaces (issue 15, docs/netns.md).
    Flag("netns", "The view (every mode) from inside one network namespace: an ip netns name, "
         "a PID (its namespace), a path (/proc/PID/ns/net, /run/docker/netns/ID), or a "
         "container or pod name or ID prefix. Entering needs CAP_SYS_ADMIN; without it the "
         "sockets come from /proc/PID/net of a process in it (said on stderr).",
         long="netns", arg="TARGET"),
    Flag("all_netns", "The connections of every network namespace on the host, each row "
         "labelled in a Namespace column: its container, pod, ip netns name, host, or inode. "
         "Owners are host PIDs. Namespaces that cannot be read are named on stderr. With -e, "
         "-s, -r: each namespace's sections under its name. With an interval, every pass "
         "across every namespace (--changes: compared within each namespace; a namespace "
         "that appears or goes away is said); JSON and CSV rows carry the namespace. With --serve: every "
         "namespace at every scrape, each series with a netns label.",
         long="all-netns"),
    # "-?" and "/?": what a Windows netstat user types first.
    Flag("help", "Shows this help.", short="h", long="help", hidden=("-?", "/?")),
    Flag("version", "Shows the version.", long="version"),
)

# Said once, after the rows, in --help and the man page.
FILTER_GRAMMAR = ("Filters: a value is ITEM[,ITEM...], any of the items; a leading ! negates the "
                  "whole value ('!80,443': neither); a socket must meet every filter given, each "
                  "occurrence one condition. No match prints the header alone, exit 0. "
                  "docs/filters.md has the details.")

SHORT = {row.short: row for row in FLAGS if row.short}
# Every token that names a row whole: "--all", "--proto", "/?".
WHOLE = {name: row for row in FLAGS for name in (*row.long_names, *row.hidden)}
POSITIONAL = next(row for row in FLAGS if row.positional)

# (what people ask, a command line that answers it): the end of --help and the man page's
# EXAMPLES. tests/test_flags.py runs the pynetstat part of each.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("What listens on port 80, and which process is it?", "pynetstat -ano | grep ':80 .*LISTENING'"),
    ("The same, with a filter the kernel applies:", "pynetstat -no --state listening --lport 80"),
    ("What does nginx talk to?", "pynetstat -nb --process nginx --state '!listening'"),
    ("Which program talks to 10.1.2.3?", "pynetstat -anb --remote 10.1.2.3"),
    ("Watch new and closed connections, every 2 seconds:", "pynetstat -an --changes 2"),
    ("How many TCP connections are in each state?",
     "pynetstat -an -p tcp | awk 'NR > 4 { print $4 }' | sort | uniq -c"),
    ("Is TCP retransmitting or resetting (counters of the whole host)?", "pynetstat -s -p tcp"),
)

# The other face, said at the end of --help (the net-tools one says how to come back).
OTHER_FACE = ("Linux net-tools grammar and layouts (netstat -tulpn, -rn, -i, -s; there -p means "
              "program): run pynetstat-netstat, a link named netstat to it, or pynetstat "
              "--nettools ARGS (as the first argument).")

SUMMARY = ("Displays protocol statistics and current TCP/IP network connections, read from the "
           "Linux kernel (netlink, /proc).")
EXIT_STATUSES = ((0, "ok"), (1, "the kernel could not be read, or the output not written"),
                 (2, "bad command line, or a --diff FILE that is no baseline"),
                 (3, "--audit found an alert"), (4, "--audit found warnings, no alert"),
                 (5, "--diff found changes"),
                 (130, "Ctrl+C"), (143, "SIGTERM"), (141, "output closed early"))
ENVIRONMENT = (
    ("PYNETSTAT_PROC_ROOT", "read another /proc tree"),
    ("PYNETSTAT_RESOLVE_BUDGET", "seconds allowed for host name lookups without -n, default 2"),
    ("PYNETSTAT_SCRAPE_WAIT", "seconds a --serve scrape waits for a fresh scan before it "
     "answers with the last one, marked stale, default 8"),
    ("NO_COLOR", "no colour, even on a terminal"),
)


def usage() -> str:
    """``usage: pynetstat [-a] ... [-p proto] ... [--json] [--changes] [interval]``"""
    listed = [row for row in FLAGS if row.field not in ("help", "version", "no_counterpart")]
    parts = [f"[-{row.short}{' ' + row.arg if row.arg else ''}]" for row in listed if row.short]
    parts += [f"[--{row.long}{' ' + row.arg_text if row.arg else ''}]" for row in listed
              if not row.short and row.long and not row.many]
    if any(row.many for row in listed):
        parts.append("[--FILTER [!]VALUE[,...]]...")
    parts += [f"[{row.arg}]" for row in listed if row.positional]
    return "usage: pynetstat " + " ".join(parts)


USAGE = usage()


def long_forms() -> str:
    """``--all (-a), ..., --proto or --protocol (-p), ...``: the long names of the letters."""
    return ", ".join(" or ".join(row.long_names) + f" (-{row.short})"
                     for row in FLAGS if row.short and row.aliases)


def help_text() -> str:
    import textwrap

    # Prose paragraphs wrap at 85 columns and rows at 78, as the help has always been laid out.
    def prose(text: str) -> list[str]:
        return textwrap.wrap(text, 85)

    lines = [*prose(SUMMARY), "", USAGE, ""]
    for row in FLAGS:
        lines += textwrap.wrap(row.help, 78, initial_indent=f"  {row.label:<13} ",
                               subsequent_indent=" " * 16)
    lines += ["", *prose(FILTER_GRAMMAR)]
    lines += ["", *prose("Long forms: " + long_forms() + "."), ""]
    lines += prose("Exit status: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_STATUSES) + ".")
    lines += prose("Environment: " + ", ".join(f"{name} ({text})" if text else name
                                               for name, text in ENVIRONMENT) + ".")
    lines += ["", "Examples:"]
    for question, command in EXAMPLES:
        lines += [f"  {question}", f"      {command}"]
    lines += ["", *prose(OTHER_FACE)]
    return "\n".join(lines) + "\n"
