"""Prometheus metrics from one reading: sockets (as batches arrive), -s and -e snapshots.

Pure: batches and snapshots in, ``Family`` records out; no /proc, no prometheus_client (the
serve mode turns families into its metric objects). docs/metrics.md lists every family here, and
tests/test_serve.py checks that it does.

Labels never carry a PID, a command line, a remote address or port: those are unbounded (every
client a new series) and argv may hold secrets. Every label value from a process or an interface
goes through ``textsafe.safe`` / ``safe_token`` (docs/escaping.md), so a value is printable
UTF-8 whatever bytes the process put in its name; the exposition format's own escaping of ``\\``,
``"`` and newlines is the library's. Each label family has a cap (``CAPS``): past it, the
smallest are summed into one series whose values are ``other``, and
``pynetstat_folded_series{family}`` says how many were folded.

With ``--all-netns`` every socket, process, listener, interface and counter series has a
``netns`` label first (the Namespace column's text of ``--all-netns`` rows). Namespaces past
their cap share ``netns="other"``; the other caps count (namespace, value) pairs and fold only
their own labels, so a namespace's folded processes are its own ``process="other"``.
"""

from __future__ import annotations

from collections import Counter

from pynetstat.model.netns_labels import netns_cell
from pynetstat.model.sockets import TCP_CLOSE, TCP_LISTEN, kernel_state_name
from pynetstat.model.stats import GAUGES, LINK_STAT_FIELDS
from pynetstat.render.owners import component, exe_name
from pynetstat.textsafe import safe, safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pynetstat.model.evidence import Finding
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import Owner, SocketBatch
    from pynetstat.model.stats import CountersSnapshot, LinksSnapshot

OTHER = "other"  # the label value of the series that sums what a cap folded
NO_OWNER = "-"  # process label of a socket no visible process holds (as -o prints it)

# Series per label family before the rest is folded into OTHER: process names (each name's
# sockets by state and its queues), listening endpoints, interfaces; with --all-netns the
# namespaces (each multiplies the -s and -e series: ~400 per namespace).
CAPS = {"process": 100, "listener": 1000, "interface": 256, "netns": 100}


class Family:
    """One metric: ``name`` as exposed (a counter's ends in ``_total``), ``kind`` ``"gauge"`` or
    ``"counter"``, HELP text, label names, and ``samples``: ``{label values: value}``."""

    __slots__ = ("name", "kind", "help", "labels", "samples")

    def __init__(self, name: str, kind: str, help: str, labels: tuple[str, ...] = ()):
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = labels
        self.samples: dict[tuple[str, ...], float] = {}

    def __repr__(self) -> str:
        return f"Family({self.name!r}, {len(self.samples)} series)"


def _family_label(family: int) -> str:
    return "ipv6" if family == 6 else "ipv4"  # as --json says it


def netns_labels(namespaces: Sequence[NetNamespace], folded: Family) -> dict[int, str]:
    """--all-netns: each namespace's ``netns`` label by inode: the Namespace column's text of
    ``--all-netns`` rows. Namespaces are admitted in the discovery's order (the host's first,
    then by inode) up to the cap, the rest are OTHER: a namespace keeps its label from scan to
    scan while the namespaces before it live (no flapping with socket counts)."""
    cap = CAPS["netns"]
    if len(namespaces) > cap:
        folded.samples[("netns",)] = len(namespaces) - cap
    return {ns.inode: netns_cell(ns) if i < cap else OTHER for i, ns in enumerate(namespaces)}


def netns_families(labels: dict[int, str], namespaces: Iterable[NetNamespace],
                   unread: Iterable[tuple[NetNamespace, str]] | None = None,
                   unseen: int = 0) -> list[Family]:
    """The namespaces read (``--netns``: the one; ``--all-netns``: each under its cap), by label
    and inode; with ``--all-netns`` (``unread`` given) those found but not read, by why, and the
    processes whose namespace could not be seen."""
    info = Family("pynetstat_netns_info", "gauge",
                  "The network namespaces the series are read in (--netns: the one; --all-netns: "
                  "each, as its netns label names it), with their nsfs inode; value 1.",
                  ("netns", "inode"))
    for ns in namespaces:
        if labels[ns.inode] != OTHER:
            info.samples[(labels[ns.inode], str(ns.inode))] = 1
    if unread is None:
        return [info]
    missed = Family("pynetstat_netns_unread", "gauge",
                    "Network namespaces found in this scan that could not be read, by why "
                    "(--all-netns); their sockets and counters are in no series.", ("reason",))
    for _ns, why in unread:
        missed.samples[(safe(why),)] = missed.samples.get((safe(why),), 0) + 1
    hidden = Family("pynetstat_netns_unseen_processes", "gauge",
                    "Processes whose network namespace could not be seen (/proc/PID/ns/net "
                    "unreadable): a namespace that only they are in is missing (--all-netns).")
    hidden.samples[()] = unseen
    return [info, missed, hidden]


class OwnerLabels(dict[tuple["Owner", ...], tuple[str, str, str]]):
    """``owners tuple -> (process, executable, unit)``, escaped, made once per tuple (the owner
    join shares one tuple among all the sockets of a process). The lowest PID's process names a
    socket held by several, as -o does."""

    def __missing__(self, owners: tuple[Owner, ...]) -> tuple[str, str, str]:
        if not owners:
            labels = (NO_OWNER, "", "")
        else:
            owner = owners[0]
            info = owner.process
            name = owner.name if owner.name is not None else (info.name if info else None)
            labels = (safe(name) if name is not None else NO_OWNER,
                      safe(exe_name(info)) if info is not None and info.exe else "",
                      safe(component(info) or "") if info is not None else "")
        self[owners] = labels
        return labels


class TcpTotals:
    """``--serve --info``: per process name, what its TCP connections moved since the exporter
    started, as counters that only go up, so that ``rate()`` gives each program's throughput:
    bytes sent (tcp_info ``bytes_acked``: acknowledged by the peer), bytes received
    (``bytes_received``) and segments retransmitted (``total_retrans``).

    Kept across scans: each socket's counters at the last scan, by socket cookie. A scan adds
    each socket's growth since then (a socket first seen adds all it has moved: it was opened
    since, or this is the first scan) to the name holding it now (the lowest PID's, as -o); a
    socket that closed between two scans takes what it moved since the last with it. Names are
    admitted up to the process cap and then kept (a counter must not move between series); later
    names add to ``process="other"``. Memory: one entry per open TCP socket, plus one per name.

    ``netns``: with --all-netns, a name is counted per namespace (labels ``netns, process``), and
    a socket is known by (namespace inode, cookie): before Linux 5.12 each namespace numbered
    its sockets' cookies from 1."""

    FIELDS = ("bytes_acked", "bytes_received", "total_retrans")

    def __init__(self, cap: int | None = None, netns: bool = False) -> None:
        self.cap = CAPS["process"] if cap is None else cap
        self.netns = netns
        # cookie (with netns: (inode, cookie)) -> counters at the last scan
        self.last: dict[object, tuple[int, int, int]] = {}
        # (process,) or (netns, process) -> [sent, received, retransmitted]
        self.totals: dict[tuple[str, ...], list[int]] = {}
        self.begin()

    def begin(self) -> None:
        """A scan starts: what it adds counts only once ``families`` takes it (a scan that
        fails half-way adds nothing, and the next measures against the same last scan)."""
        self.now: dict[object, tuple[int, int, int]] = {}  # cookie -> this scan's counters
        self.growth: dict[tuple[str, ...], list[int]] = {}  # labels -> this scan's growth

    def add(self, batch: SocketBatch, owners: Sequence[tuple[Owner, ...]],
            names: OwnerLabels, netns: str = "") -> None:
        last, now, fields = self.last, self.now, self.FIELDS
        head = (netns,) if self.netns else ()
        cookies: Iterable[object] = batch.cookie
        if self.netns and batch.netns is not None:
            inode = batch.netns.inode
            cookies = [None if c is None else (inode, c) for c in batch.cookie]
        for ext, cookie, who in zip(batch.extensions or (), cookies, owners):
            info = None if ext is None else ext.info
            if info is None or cookie is None:
                continue
            values = tuple(getattr(info, name) for name in fields)
            if None in values:
                continue
            now[cookie] = values
            was = last.get(cookie, (0, 0, 0))
            name = (*head, names[who][0])
            growth = self.growth.get(name)
            if growth is None:
                growth = self.growth[name] = [0, 0, 0]
            for i in range(3):
                growth[i] += max(values[i] - was[i], 0)

    def families(self, folded: Family) -> list[Family]:
        """The totals with this scan's growth; the next scan measures against this one."""
        totals, folded_names = self.totals, 0
        for name, growth in self.growth.items():
            total = totals.get(name)
            if total is None:
                if len(totals) >= self.cap:
                    folded_names += 1
                    name = (*name[:-1], OTHER)
                total = totals.setdefault(name, [0, 0, 0])
            for i in range(3):
                total[i] += growth[i]
        if folded_names:
            folded.samples[("process_tcp",)] = folded_names
        self.last = self.now
        self.begin()
        labels = ("netns", "process") if self.netns else ("process",)
        out = [Family("pynetstat_process_tcp_sent_bytes_total", "counter",
                      "Bytes a process name's TCP connections sent and the peer acknowledged "
                      "(tcp_info bytes_acked), since the exporter started (--info).", labels),
               Family("pynetstat_process_tcp_received_bytes_total", "counter",
                      "Bytes a process name's TCP connections received (tcp_info "
                      "bytes_received), since the exporter started (--info).", labels),
               Family("pynetstat_process_tcp_retransmitted_segments_total", "counter",
                      "Segments a process name's TCP connections retransmitted (tcp_info "
                      "total_retrans), since the exporter started (--info).", labels)]
        for name, values in self.totals.items():
            for family, value in zip(out, values):
                family.samples[name] = value
        return out


class SocketTally:
    """What the socket metrics need, added a batch at a time (a batch is not kept): counts by
    (namespace, owners, kind, state) in C loops (``Counter`` over zipped columns), queues of
    connected sockets, and listening endpoints. Memory grows with processes and listeners, not
    sockets. ``netns``: with --all-netns, each namespace's label by inode (``netns_labels``);
    without, the namespace is ``""`` and no series has a ``netns`` label."""

    def __init__(self, tcp: TcpTotals | None = None, netns: dict[int, str] | None = None) -> None:
        self.tcp = tcp  # --info: the per-process TCP counters, kept across scans
        if tcp is not None:
            tcp.begin()
        self.netns = netns
        self.names = OwnerLabels()
        # (netns, owners, proto, family, state) -> sockets
        self.counts: Counter[tuple[str, tuple[Owner, ...], str, int, int]] = Counter()
        # netns -> owners -> [recv_q, send_q]
        self.queues: dict[str, dict[tuple[Owner, ...], list[int]]] = {}
        # (netns, proto, family, address, port, owners)
        self.listeners: set[tuple[str, str, int, str, int, tuple[Owner, ...]]] = set()

    def add(self, batch: SocketBatch) -> None:
        proto, family = batch.proto, batch.family
        ns = ""
        if self.netns is not None:
            ns = OTHER if batch.netns is None else self.netns.get(batch.netns.inode, OTHER)
        owners = batch.owners if batch.owners is not None else ((),) * len(batch)
        for (who, state), n in Counter(zip(owners, batch.state)).items():
            self.counts[(ns, who, proto, family, state)] += n
        if self.tcp is not None and proto == "tcp" and batch.extensions is not None:
            self.tcp.add(batch, owners, self.names, ns)
        # A listener's queues are its accept backlog, not bytes: left out of the byte sums.
        listening = TCP_LISTEN if proto == "tcp" else TCP_CLOSE  # UDP: bound, unconnected
        queues = self.queues.setdefault(ns, {})
        for who, state, rq, sq in zip(owners, batch.state, batch.recv_q, batch.send_q):
            if state == listening:
                continue
            if rq or sq:
                q = queues.get(who)
                if q is None:
                    q = queues[who] = [0, 0]
                q[0] += rq
                q[1] += sq
        if listening in batch.state:
            for i, state in enumerate(batch.state):
                if state == listening and (proto == "tcp" or batch.remote_port[i] == 0):
                    self.listeners.add((ns, proto, family, batch.local_address[i],
                                        batch.local_port[i], owners[i]))


def _capped(values: Iterable[tuple[tuple[str, ...], float]], cap: int, keep: int, heads: int,
            folded: Family, family_name: str) -> dict[tuple[str, ...], float]:
    """Sum ``(labels, value)`` pairs; when more than ``cap`` distinct values of the first
    ``keep + heads`` labels occur, the largest ``cap`` are kept and the rest have their
    ``heads`` labels after the first ``keep`` (the netns label, never folded here) made OTHER."""
    sums: dict[tuple[str, ...], float] = {}
    for labels, value in values:
        sums[labels] = sums.get(labels, 0) + value
    width = keep + heads
    ranked: dict[tuple[str, ...], float] = {}
    for labels, value in sums.items():
        ranked[labels[:width]] = ranked.get(labels[:width], 0) + value
    if len(ranked) <= cap:
        return sums
    kept = set(sorted(ranked, key=ranked.__getitem__, reverse=True)[:cap])
    out: dict[tuple[str, ...], float] = {}
    for labels, value in sums.items():
        if labels[:width] not in kept:
            labels = labels[:keep] + (OTHER,) * heads + labels[width:]
        out[labels] = out.get(labels, 0) + value
    folded.samples[(family_name,)] = len(ranked) - cap
    return out


def socket_families(tally: SocketTally, folded: Family) -> list[Family]:
    names = tally.names
    lead = ("netns",) if tally.netns is not None else ()
    width = len(lead)  # labels[:width]: the sample's (netns,), or ()
    sockets = Family("pynetstat_sockets", "gauge",
                     "Sockets by protocol, family and kernel state.",
                     (*lead, "proto", "family", "state"))
    per_process = Family("pynetstat_process_sockets", "gauge",
                         "Sockets by the name of the process holding them (lowest PID), protocol "
                         "and kernel state; process \"-\": no visible owner.",
                         (*lead, "process", "proto", "family", "state"))
    pairs = []
    for (ns, who, proto, family, state), n in tally.counts.items():
        head = (ns,)[:width]
        kind = (proto, _family_label(family), kernel_state_name(state))
        key = (*head, *kind)
        sockets.samples[key] = sockets.samples.get(key, 0) + n
        pairs.append(((*head, names[who][0], *kind), n))
    per_process.samples = _capped(pairs, CAPS["process"], width, 1, folded, "process")
    kept = {labels[:width + 1] for labels in per_process.samples}
    recv = Family("pynetstat_process_receive_queue_bytes", "gauge",
                  "Bytes in the receive queues of a process name's sockets (listeners left out).",
                  (*lead, "process"))
    send = Family("pynetstat_process_send_queue_bytes", "gauge",
                  "Bytes in the send queues of a process name's sockets (listeners left out).",
                  (*lead, "process"))
    for ns, queues in tally.queues.items():
        head = (ns,)[:width]
        for who, (rq, sq) in queues.items():
            shown = (*head, names[who][0])
            if shown not in kept:
                shown = (*head, OTHER)
            recv.samples[shown] = recv.samples.get(shown, 0) + rq
            send.samples[shown] = send.samples.get(shown, 0) + sq
    listeners = Family("pynetstat_listeners", "gauge",
                       "Listening endpoints (TCP LISTEN, UDP bound and unconnected), with the "
                       "program holding each; the value is 1 (a folded \"other\" series: how many).",
                       (*lead, "proto", "family", "address", "port", "process", "executable",
                        "unit"))
    listeners.samples = _capped(
        ((((ns,)[:width] + (proto, _family_label(family), address, str(port), *names[who])), 1)
         for ns, proto, family, address, port, who in tally.listeners),
        CAPS["listener"], width, 7, folded, "listener")
    tcp = tally.tcp.families(folded) if tally.tcp is not None else []
    return [sockets, listeners, per_process, recv, send, *tcp]


def audit_families(findings: Iterable[Finding], severities: Iterable[str],
                   folded: Family) -> list[Family]:
    """``--serve --audit``: the audit's findings by sign, severity and the name of the process
    concerned (``""`` for a host-wide finding), so an alert rule can page on a reverse shell;
    and their count by severity, every severity always there (0: the audit ran and found none;
    no series: the audit is not on)."""
    by_sign = Family("pynetstat_audit_findings", "gauge",
                     "Findings of pynetstat --audit by sign, severity and the process's name "
                     "(docs/audit.md); the value is how many.", ("sign", "severity", "process"))
    by_severity = Family("pynetstat_audit_findings_by_severity", "gauge",
                         "Findings of pynetstat --audit by severity (alert, warning, info).",
                         ("severity",))
    for severity in severities:
        by_severity.samples[(severity,)] = 0
    pairs = []
    for f in findings:
        info = f.process.process if f.process is not None else None
        name = safe(info.name) if info is not None and info.name is not None else ""
        pairs.append(((name, f.sign, f.severity), 1))
        by_severity.samples[(f.severity,)] = by_severity.samples.get((f.severity,), 0) + 1
    capped = _capped(pairs, CAPS["process"], 0, 1, folded, "audit")
    by_sign.samples = {(sign, severity, name): n for (name, sign, severity), n in capped.items()}
    return [by_sign, by_severity]


def counter_families(snapshots: Sequence[tuple[str | None, CountersSnapshot]]
                     ) -> list[Family]:
    """-s: every counter of /proc/net/snmp, netstat and snmp6 by its kernel group and name;
    ``snapshots``: ``[(None, snapshot)]``, or with --all-netns ``[(netns label, snapshot)]``
    (namespaces folded into OTHER are summed)."""
    lead = ("netns",) if snapshots and snapshots[0][0] is not None else ()
    counters = Family("pynetstat_protocol_mib_total", "counter",
                      "The kernel's protocol counters (pynetstat -s -v), by group and name as "
                      "/proc/net/snmp, netstat and snmp6 spell them.", (*lead, "group", "name"))
    gauges = Family("pynetstat_protocol_mib_value", "gauge",
                    "The kernel's protocol settings and levels that are not counters "
                    "(Tcp.CurrEstab, Ip.Forwarding, ...).", (*lead, "group", "name"))
    for ns, snapshot in snapshots:
        head = (ns,) if ns is not None else ()
        for group, values in snapshot.counters.groups.items():
            for name, value in values.items():
                target = gauges if f"{group}.{name}" in GAUGES else counters
                key = (*head, safe_token(group), safe_token(name))
                target.samples[key] = target.samples.get(key, 0) + value
    return [counters, gauges]


def interface_families(snapshots: Sequence[tuple[str | None, LinksSnapshot]],
                       folded: Family) -> list[Family]:
    """-e: one counter per rtnl_link_stats64 field, by interface (and namespace, as
    ``counter_families``); a count the source does not keep has no series (never 0). The cap
    counts (namespace, interface) pairs."""
    lead = ("netns",) if snapshots and snapshots[0][0] is not None else ()
    families = [Family(f"pynetstat_interface_{field}_total", "counter",
                       f"The interface's {field} count (struct rtnl_link_stats64; "
                       "/proc/net/dev without netlink).", (*lead, "interface"))
                for field in LINK_STAT_FIELDS]
    rows = [((ns,) if ns is not None else (), interface.name, interface.stats.as_dict())
            for ns, snapshot in snapshots for interface in snapshot.interfaces
            if interface.stats is not None]
    if len(rows) > CAPS["interface"]:
        rows.sort(key=lambda row: -(row[2]["rx_bytes"] or 0) - (row[2]["tx_bytes"] or 0))
        folded.samples[("interface",)] = len(rows) - CAPS["interface"]
    for i, (head, name, stats) in enumerate(rows):
        key = (*head, safe_token(name) if i < CAPS["interface"] else OTHER)
        for family, field in zip(families, LINK_STAT_FIELDS):
            value = stats[field]
            if value is not None:
                family.samples[key] = family.samples.get(key, 0) + value
    return families


def folded_family() -> Family:
    return Family("pynetstat_folded_series", "gauge",
                  "Series this scrape folded into an \"other\" series, by label family "
                  "(process, listener, interface, netns, ...), past their caps.", ("family",))
