"""``--serve``: Prometheus metrics over HTTP, computed from the collectors at each scrape.

prometheus_client (the ``exporter`` extra) serves the exposition and escapes it; this module
reads the kernel when asked (one scan at a time: a scrape that comes while a scan is in flight
waits for that scan and shares it), turns render/metrics.py's families into the library's metric
objects, and ends quietly on SIGTERM (143) or Ctrl+C (130), closing the listening socket first.
No name is ever resolved: the address is numeric (flags.parse_listen), sockets are read with -n.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from pynetstat.errors import Exit, PynetstatError, ServeError
from pynetstat.flags import SERVE_DEFAULT, parse_listen
from pynetstat.linux import counters as counters_collector
from pynetstat.linux import links as links_collector
from pynetstat.linux.connections import collect
from pynetstat.linux.procfs import procfs_of
from pynetstat.options import Options
from pynetstat.render.metrics import (
    Family,
    SocketTally,
    TcpTotals,
    audit_families,
    counter_families,
    folded_family,
    interface_families,
    netns_families,
    netns_labels,
    socket_families,
)
from pynetstat.session import NoCycleCollection, Session
from pynetstat.textsafe import safe
from pynetstat.views.connections import unattributed_reason

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment

INSTALL_HINT = "--serve needs prometheus_client: pip install 'pynetstat[exporter]'"


def scan_options(opts: Options) -> Options:
    """What one scan reads: every state (listeners too), numeric, with owners and their
    executables and units; the user's -p and filters narrow it."""
    scan = Options(all=True, numeric=True, pids=True, executables=True, json=True,
                   protocol=opts.protocol, filters=opts.filters, info=opts.info, audit=opts.audit,
                   all_netns=opts.all_netns)
    scan.filter = opts.filter
    scan.peers = False  # no series names the other end of a connection
    if opts.kinds is not None:
        # the exporter's series are those of TCP and UDP sockets: -p's other kinds are left out
        from pynetstat.kinds import BY_OPTION, chosen_options

        scan.kinds = tuple(o for o in chosen_options(opts.kinds) if BY_OPTION[o].spec)
    return scan


# Seconds a scrape waits for a fresh scan before it answers with the last one, marked stale:
# under Prometheus's default scrape timeout (10 s), so that a slow scan still gets an answer.
SCRAPE_WAIT = 8.0
# Connections the listening socket queues before accept: scrapes that come at once.
SCRAPE_BACKLOG = 128


class Scanner:
    """Reads the kernel for scrapes, one scan at a time, in one thread of its own. A scrape asks
    for a scan unless one is in flight, then waits for it (a 200k-socket scan takes a second or
    more: 50 scrapers must not make 50 of them). One that waits longer than ``wait`` seconds
    answers with the last scan's families, marked ``pynetstat_stale 1``, while the scan goes on.

    One long-lived thread rather than one per scan: glibc gives each new thread a malloc arena
    of its own, and a scan's large blocks left in the arenas of threads gone made the RSS climb
    from scan to scan (30 to 72 MiB over 3 scrapes, 168 MiB after 50 at once; bench/serve_cost.py)."""

    def __init__(self, session: Session, wait: float = SCRAPE_WAIT):
        self.session = session
        self.wait = wait
        self.procfs = procfs_of(session.env)  # with --netns: the namespace's net/ files
        self.cond = threading.Condition()
        self.worker: threading.Thread | None = None
        self.running = False  # a scan is asked for or in flight
        self.generation = 0  # scans finished
        self.families: list[Family] = []
        self.errors: Counter[str] = Counter()  # stage -> scans in which it failed (a counter)
        self.scans = 0  # scans made since the start (scrapes that shared one are not counted)
        # --info: each process name's TCP bytes and retransmissions, counted across scans
        self.tcp = TcpTotals(netns=session.opts.all_netns) if session.opts.info else None

    def read(self) -> list[Family]:
        with self.cond:
            generation = self.generation
            if self.worker is None:
                # Started from a request thread, so with its blocked SIGINT and SIGTERM.
                self.worker = threading.Thread(target=self._work, name="pynetstat-scan",
                                               daemon=True)
                self.worker.start()
            if not self.running:
                self.running = True
                self.cond.notify_all()
            deadline = time.monotonic() + self.wait
            while self.generation == generation:
                left = deadline - time.monotonic()
                if left <= 0 and generation > 0:
                    return [*self.families, _stale(1)]
                self.cond.wait(left if left > 0 else None)
            return [*self.families, _stale(0)]

    def _work(self) -> None:
        while True:
            with self.cond:
                while not self.running:
                    self.cond.wait()
            try:
                families = self.scan()
            except Exception:
                # A failure no stage expected: said as an error of the "scan" stage, and the
                # worker lives on (a dead worker would leave every later scrape waiting).
                self.errors["scan"] += 1
                families = self.health()
            finally:
                with self.cond:
                    self.families = families
                    self.running = False
                    self.generation += 1
                    self.cond.notify_all()
            _trim()


    def scan(self) -> list[Family]:
        start = time.monotonic()
        self.scans += 1
        session = self.session
        folded = folded_family()
        with NoCycleCollection():
            if session.opts.all_netns:
                families = self.every_namespace(folded)
            else:
                families = self.one_namespace(folded)
            if session.opts.audit:
                families += self.audit(folded)
        duration = Family("pynetstat_scrape_duration_seconds", "gauge",
                          "Seconds this scan of the kernel took.")
        duration.samples[()] = time.monotonic() - start
        return [*families, folded, *self.health(), duration]

    def one_namespace(self, folded: Family) -> list[Family]:
        """The sockets, -e and -s of the namespace we read (the host's, or --netns TARGET's)."""
        session = self.session
        families: list[Family] = []
        found = Found()
        try:
            conns = collect(session.opts, session.env, session.netlink)
            tally = SocketTally(self.tcp)
            for batch in conns:
                tally.add(batch)
            families += socket_families(tally, folded)
            found.add(conns)
        except (PynetstatError, OSError):
            self.errors["sockets"] += 1
        links = links_collector.collect(None, self.procfs, session.netlink)
        if links.source is None:
            self.errors["interfaces"] += 1
        families += interface_families([(None, links)], folded)
        counters = counters_collector.collect(None, self.procfs)
        if counters.unreadable:
            self.errors["counters"] += 1
        families += counter_families([(None, counters)])
        ns = session.env.netns
        if ns is not None:
            # --netns: which namespace every series is from, as an info metric to join on
            families += netns_families({ns.inode: safe(ns.label)}, [ns])
        return [*families, *found.families()]

    def every_namespace(self, folded: Family) -> list[Family]:
        """--all-netns: every namespace's sockets, -e and -s, found and reached anew at each
        scan (as ``pynetstat --all-netns`` does once), each series with its ``netns`` label.
        A stage that fails in one namespace is counted once per scan and the others are read;
        a namespace that cannot be reached at all is counted by why."""
        from pynetstat.linux.allnetns import collect as collect_every

        session = self.session
        try:
            every = collect_every(session.opts, session.env)
        except (PynetstatError, OSError):
            self.errors["sockets"] += 1
            return []
        try:
            namespaces = [part.namespace for part in every.parts]
            labels = netns_labels(namespaces, folded)
            tally = SocketTally(self.tcp, labels)
            found = Found(netns=True)
            links, counters = [], []
            failed: set[str] = set()
            for part in every.parts:
                label = labels[part.namespace.inode]
                try:
                    assert part.conns is not None  # collected with the connection table
                    for batch in part.conns:
                        tally.add(batch)
                    found.add(part.conns, label)
                except (PynetstatError, OSError):
                    failed.add("sockets")
                procfs = procfs_of(part.env)
                read = links_collector.collect(None, procfs, part.netlink)
                if read.source is None:
                    failed.add("interfaces")
                links.append((label, read))
                numbers = counters_collector.collect(None, procfs)
                if numbers.unreadable:
                    failed.add("counters")
                counters.append((label, numbers))
            for stage in failed:
                self.errors[stage] += 1
            return [*socket_families(tally, folded), *interface_families(links, folded),
                    *counter_families(counters), *found.families(),
                    *netns_families(labels, namespaces, every.unread, every.discovery.denied)]
        finally:
            every.close()

    def audit(self, folded: Family) -> list[Family]:
        """--serve --audit: the audit's findings (its own reading of the sockets and processes,
        as `pynetstat --audit` makes it)."""
        from pynetstat.audit.signs import judge
        from pynetstat.linux.evidence import collect_evidence
        from pynetstat.model.evidence import SEVERITIES

        try:
            findings = judge(collect_evidence(self.session.env, self.session.netlink))
        except (PynetstatError, OSError):
            self.errors["audit"] += 1
            return []
        return audit_families(findings, SEVERITIES, folded)

    def health(self) -> list[Family]:
        """The exporter's own counters: scans made, and scans a stage failed in."""
        errors = Family("pynetstat_scrape_errors_total", "counter",
                        "Scans in which a stage (sockets, interfaces, counters; scan: an "
                        "unexpected failure) could not be read, since the exporter started.",
                        ("stage",))
        for stage in ("sockets", "interfaces", "counters", "scan", *(
                ("audit",) if self.session.opts.audit else ())):
            errors.samples[(stage,)] = self.errors[stage]
        scans = Family("pynetstat_scans_total", "counter",
                       "Scans of the kernel since the exporter started; scrapes that came while "
                       "a scan was in flight shared it.")
        scans.samples[()] = self.scans
        return [errors, scans]


class Found:
    """What a scan's connection sets say of their reading: sockets no visible process holds (by
    why) and the source of each kind, by namespace with --all-netns."""

    def __init__(self, netns: bool = False) -> None:
        lead = ("netns",) if netns else ()
        self.unattributed = Family(
            "pynetstat_unattributed_sockets", "gauge",
            "Sockets with an inode that no visible process holds, and why.", (*lead, "reason"))
        self.sources = Family(
            "pynetstat_source_info", "gauge",
            "Where each socket kind was read from (netlink, procfs); value 1.",
            (*lead, "proto", "source"))

    def add(self, conns: Any, netns: str | None = None) -> None:
        head = (netns,) if netns is not None else ()
        if conns.unattributed:
            key = (*head, unattributed_reason(conns) or "")
            self.unattributed.samples[key] = (self.unattributed.samples.get(key, 0)
                                              + conns.unattributed)
        for proto, source in conns.log.sources.items():
            labels = (*head, proto, source or "unavailable")
            self.sources.samples[labels] = 1

    def families(self) -> list[Family]:
        return [self.unattributed, self.sources]


def _stale(value: int) -> Family:
    stale = Family("pynetstat_stale", "gauge",
                   "1: the scan in flight took longer than the scrape may wait, and this answer "
                   "is the previous scan's; 0: a fresh scan.")
    stale.samples[()] = value
    return stale


def _library_family(family: Family, core: Any) -> Any:
    make = core.CounterMetricFamily if family.kind == "counter" else core.GaugeMetricFamily
    metric = make(family.name, family.help, labels=family.labels)
    for labels, value in family.samples.items():
        metric.add_metric(labels, value)
    return metric


class Exporter:
    """A prometheus_client collector: each collect() is one scrape."""

    def __init__(self, scanner: Scanner, core: Any):
        self.scanner = scanner
        self.core = core

    def collect(self) -> list[Any]:
        return [_library_family(family, self.core) for family in self.scanner.read()]


def run(opts: Options, env: Environment) -> int:
    try:
        from prometheus_client import core, start_http_server
        from prometheus_client.registry import CollectorRegistry
    except ImportError:
        raise ServeError(INSTALL_HINT) from None
    import signal

    from pynetstat.modes.signals import Terminated, terminate

    host, port = opts.serve if opts.serve is not None else parse_listen(SERVE_DEFAULT)
    session = Session(scan_options(opts), env)
    registry = CollectorRegistry(auto_describe=False)
    wait = env.environ.get("PYNETSTAT_SCRAPE_WAIT")
    try:
        scanner = Scanner(session, float(wait) if wait else SCRAPE_WAIT)
    except ValueError:
        session.close()
        raise ServeError(f"PYNETSTAT_SCRAPE_WAIT={wait!r}: expected seconds") from None
    registry.register(Exporter(scanner, core))
    shown = f"[{host}]" if ":" in host else host
    # The server's threads (and the threads they start per request) are made with SIGINT and
    # SIGTERM blocked, so that the kernel hands both to this thread, which waits in pause().
    stops = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        # TLS and client certificates are the library's (its only access control).
        server, _thread = start_http_server(
            port, addr=host, registry=registry, certfile=opts.serve_cert,
            keyfile=opts.serve_key, client_cafile=opts.serve_client_ca,
            client_auth_required=opts.serve_client_ca is not None)
    except OSError as e:
        session.close()
        raise ServeError(f"cannot serve on {shown}:{port}: {e.strerror or e}") from None
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    # socketserver listens with a backlog of 5: 50 scrapes at once overflowed it (TcpExt
    # ListenOverflows), the SYNs dropped were sent again 1 and 3 s later and answered by later
    # scans (bench/serve_cost.py at 200k sockets: 3 scans, 12.8 s). listen() on a listening
    # socket only sets its backlog (capped by net.core.somaxconn).
    server.socket.listen(SCRAPE_BACKLOG)
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        scheme = "https" if opts.serve_cert else "http"
        session.say(f"serving metrics on {scheme}://{shown}:{server.server_port}/metrics")
        env.stderr.flush()
        while True:
            signal.pause()
    except Terminated:
        return Exit.TERMINATED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.shutdown()
        server.server_close()
        session.close()


def _trim() -> None:
    """Give the scan's freed memory back to the system (glibc's ``malloc_trim``; nothing where
    the C library has none, as musl): glibc keeps a scan's freed blocks in the scan thread's
    arena. At 200k sockets on a quiet host the steady RSS is 43.3 MiB with it and 45.0 MiB
    without (docs/metrics.md); more where a busy host's owner walk is larger."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):
        pass
