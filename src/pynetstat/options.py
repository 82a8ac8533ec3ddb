"""The typed options of one run. ``cli.parse_args`` builds this; nothing past the CLI sees argv."""

from __future__ import annotations

# -p values for -s (the spec's list); those of the connection table come from the kind table
# (kinds.CONNECTION_PROTOCOLS).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.select import Filter

STATISTICS_PROTOCOLS = ("IP", "IPv6", "ICMP", "ICMPv6", "TCP", "TCPv6", "UDP", "UDPv6")


class Options:
    __slots__ = ("all", "numeric", "pids", "executables", "verbose", "protocol", "statistics",
                 "ethernet", "routes", "interval", "json", "csv", "changes", "filters", "filter",
                 # --audit, --snapshot, --diff (issue 16)
                 "audit", "snapshot", "diff", "kinds",
                 # TCP internals per connection (issue 13, docs/tcpinfo.md)
                 "info", "timers", "memory", "dscp", "bound", "fqdn", "times", "processes",
                 # --serve (issue 19)
                 "serve", "serve_cert", "serve_key", "serve_client_ca",
                 # --close, --yes, --live (issue 20)
                 "close", "yes", "live",
                 # --netns, --all-netns (issue 15)
                 "netns", "all_netns",
                 # whether the display names the other end of a connection (shows_peers)
                 "peers")

    def __init__(self, *, all: bool = False, numeric: bool = False, pids: bool = False,
                 executables: bool = False, verbose: bool = False, protocol: str | None = None,
                 statistics: bool = False, ethernet: bool = False, routes: bool = False,
                 interval: float | None = None, json: bool = False, csv: bool = False,
                 changes: bool = False,
                 filters: tuple[tuple[str, str], ...] = (),
                 audit: bool = False, snapshot: str | None = None, diff: str | None = None,
                 info: bool = False, timers: bool = False, memory: bool = False,
                 dscp: bool = False, bound: bool = False, fqdn: bool = False,
                 times: bool = False, processes: bool = False,
                 serve: tuple[str, int] | None = None, serve_cert: str | None = None,
                 serve_key: str | None = None, serve_client_ca: str | None = None,
                 close: bool = False, yes: bool = False, live: bool = False,
                 netns: str | None = None, all_netns: bool = False):
        self.all = all  # -a: listening sockets and UDP too
        self.numeric = numeric  # -n
        self.pids = pids  # -o
        self.executables = executables  # -b
        self.verbose = verbose  # -v
        # -p: canonical spelling from kinds.CONNECTION_PROTOCOLS or STATISTICS_PROTOCOLS ("TCPv6"), or None
        self.protocol = protocol
        # -p of the connection table: its canonical values ("TCP", "UNIX", "all"), or None
        self.kinds: tuple[str, ...] | None = None
        self.statistics = statistics  # -s
        self.ethernet = ethernet  # -e
        self.routes = routes  # -r
        self.interval = interval  # seconds, or None: print once
        self.json = json  # --json
        self.csv = csv  # --csv
        self.changes = changes  # --changes (with an interval)
        # --state, --port, ... (issue 14): (option, value) pairs in command-line order, and the
        # select.Filter that cli.parse_args parses them into once (None without a filter)
        self.filters = filters
        # False where the display never shows the other end (--serve's scans: metrics); the
        # peer join holds the whole dump and costs +16-18% CPU at 200k sockets (docs/json.md)
        self.peers = True
        self.filter: Filter | None = None
        self.audit = audit  # --audit: the signs of compromise (docs/audit.md)
        self.snapshot = snapshot  # --snapshot FILE: write a baseline there
        self.diff = diff  # --diff FILE: compare now against that baseline
        self.info = info  # --info: tcp_info and the congestion algorithm under each TCP row
        self.timers = timers  # --timers: each socket's timer and when it fires
        self.memory = memory  # --memory: socket memory (skmeminfo)
        self.dscp = dscp  # -d: the DSCP of each socket's packets (TOS / traffic class)
        self.bound = bound  # -q: -a and TCP sockets bound but not listening (BOUND)
        self.fqdn = fqdn  # -f: foreign host names in full (else their first label, as Windows)
        self.times = times  # -i: the times Linux keeps (timer left, since last send/receive/ACK)
        # -c: processes by the TCP and UDP ports they hold (implies -a -o: cli.parse_args)
        self.processes = processes
        self.serve = serve  # --serve: (numeric address, port) to serve metrics on, or None
        self.serve_cert = serve_cert  # --serve-cert FILE: HTTPS with this certificate
        self.serve_key = serve_key  # --serve-key FILE: its private key
        self.serve_client_ca = serve_client_ca  # --serve-client-ca FILE: mutual TLS
        self.netns = netns  # --netns TARGET: the view from inside that network namespace
        self.all_netns = all_netns  # --all-netns: the connections of every network namespace
        self.close = close  # --close: close the TCP connections the filters select (modes/close.py)
        self.yes = yes  # --yes: without asking
        self.live = live  # --live: the full-screen view (modes/live, the "live" extra)

    @property
    def owner_names(self) -> bool:
        """Does the output name each owner (``-b``, -c's Name column, and the owner lists of
        --json and --csv), so that the owner join reads each owning process's name?"""
        return self.json or self.csv or self.executables or self.processes

    @property
    def wants_owners(self) -> bool:
        """Only -o and -b pay for the /proc/*/fd scan."""
        return self.pids or self.executables

    @property
    def shows_peers(self) -> bool:
        """Do the rows name the process at the other end of a TCP or UDP connection on this
        host (the peer join, model/peers.py)? -b's lines and the JSON and CSV rows with owners;
        not -o's table alone, whose columns are the spec's (jc parses them), nor -c's table of
        processes or --serve's scans (``peers`` False), which never show it."""
        return (self.peers and not self.processes and self.wants_owners
                and (self.json or self.csv or self.executables))

    @property
    def table_only(self) -> bool:
        """Is the output the text connection table alone, once or at each interval? Its
        columns are the spec's: some kinds' requests ask the kernel for less than a record
        holds (a UNIX socket's queues and uid: ``linux/sockets.TABLE_ONLY``). Not with --json
        or --csv, nor for the live view, --serve, --audit, --snapshot or --diff, which carry
        every field."""
        return not (self.json or self.csv or self.live or self.serve is not None or self.audit
                    or self.snapshot is not None or self.diff is not None)

    @property
    def extension_groups(self) -> tuple[str, ...]:
        """The per-socket extension groups (model/fields.EXTENSIONS) asked for, in the order
        their text is printed under a row: none for a plain listing."""
        return tuple(group for group, given in (("tos", self.dscp), ("timer", self.timers),
                                                ("times", self.times), ("memory", self.memory),
                                                ("tcp_info", self.info))
                     if given)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"Options({fields})"
