"""Names for numbers (without -n): service names for ports, host names for foreign addresses.

A listing must never hang on a resolver. Host lookups run on a few daemon threads; each run has a
total budget, and whatever has not answered by then stays numeric (a thread stuck in
``getnameinfo`` is abandoned, not waited for). Results, negative ones included, are cached for the
life of the ``Names`` object, so an interval display asks once per address.
"""

from __future__ import annotations

import threading
import time
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from pynetstat.model.sockets import SocketBatch

DEFAULT_BUDGET = 2.0  # seconds for all host lookups of one display
DEFAULT_WORKERS = 8
LOOKUP_TIMEOUT = 0.25  # seconds after which a lookup no longer holds one of the workers
MAX_THREADS = 64  # lookup threads alive at once over a whole session, stuck ones included
_WILDCARDS = frozenset({"0.0.0.0", "::", "*"})


# An MPTCP connection's ports are TCP ports (its subflows are TCP connections on them, RFC 8684),
# and the services database names none as "mptcp": a port is named as TCP's.
_SERVICE_PROTOCOLS = {"mptcp": "tcp"}


def parse_services(text: str) -> dict[tuple[int, str], str]:
    """``/etc/services`` text to ``{(port, proto): name}``; the first name for a port wins.

    ``"ssh  22/tcp   # SSH Remote Login Protocol"`` -> ``{(22, "tcp"): "ssh"}``
    """
    table: dict[tuple[int, str], str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        port, _, proto = fields[1].partition("/")
        if not port.isdigit() or not proto:
            continue
        table.setdefault((int(port), proto.lower()), fields[0])
    return table


def parse_hosts(data: bytes) -> dict[str, str | None]:
    """``/etc/hosts`` bytes to ``{address: name}``: the first name of the first line that holds
    an address, which is what glibc's files backend answers. Fields are split on ASCII white
    space only, as glibc does (a name may hold U+00A0); a name that is not UTF-8, which Python's
    getnameinfo refuses, is ``None`` (it stays numeric). Addresses in canonical form.

    ``b"127.0.1.1  web01.example web01  # this host"`` -> ``{"127.0.1.1": "web01.example"}``
    """
    table: dict[str, str | None] = {}
    for line in data.splitlines():
        fields = line.split(b"#", 1)[0].split()
        if len(fields) >= 2:
            address = _canonical(fields[0].decode("ascii", "replace"))
            if address is not None and address not in table:
                try:
                    table[address] = fields[1].decode("utf-8")
                except UnicodeDecodeError:
                    table[address] = None
    return table


def hosts_file_answers(nsswitch: bytes | None) -> bool:
    """Does glibc consult /etc/hosts for host names? ``nsswitch`` is nsswitch.conf's bytes
    (``None``: no such file, and glibc's default, ``dns files``, has it)."""
    if nsswitch is None:
        return True
    for line in nsswitch.splitlines():
        key, _, sources = line.split(b"#", 1)[0].partition(b":")
        if key.strip() == b"hosts":
            return b"files" in sources.split()
    return True


def _canonical(address: str) -> str | None:
    from socket import AF_INET, AF_INET6, inet_ntop, inet_pton

    family = AF_INET6 if ":" in address else AF_INET
    try:
        return inet_ntop(family, inet_pton(family, address))
    except (OSError, ValueError):  # a zone (fe80::1%eth0), a typo: not an address we list
        return None


def _lookup_address(address: str) -> str:
    """The address to ask about: an IPv4 peer of an IPv6 socket (``::ffff:127.0.0.1``) by the
    IPv4 address inside it, as ss does (glibc answers no name for the mapped form)."""
    return address[7:] if address.startswith("::ffff:") and "." in address else address


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class Names:
    """Caches of service and host names for one run (or one interval session), and the threads
    that look hosts up.

    ``workers`` lookups run at a time. A lookup that has not answered after ``LOOKUP_TIMEOUT``
    stops counting against that bound (its thread is left to finish or be abandoned) and
    another thread takes the queue on, but never more than ``MAX_THREADS`` are alive, over the
    whole session: one silent DNS server must neither keep the names that /etc/hosts knows from
    being shown nor make an interval session pile up threads. An address whose lookup is still
    running is not asked again; its answer, whenever it comes, is used from the next display on.
    """

    def __init__(self, services_path: str = "/etc/services", budget: float = DEFAULT_BUDGET,
                 workers: int = DEFAULT_WORKERS, hosts_path: str = "/etc/hosts",
                 nsswitch_path: str = "/etc/nsswitch.conf"):
        self.budget = budget
        self.workers = workers
        self._services_path = services_path
        self._services: dict[tuple[int, str], str] | None = None
        self._hosts_paths = (hosts_path, nsswitch_path)
        self._local: dict[str, str | None] | None = None  # /etc/hosts, read on first lookup
        self.hosts: dict[str, str | None] = {}  # address -> name, None = looked up, no name
        self.timed_out = 0
        self.changed = threading.Condition()  # guards everything below; notified on answers
        self.queue: deque[str] = deque()
        self.queued: set[str] = set()  # what is in the queue
        self.busy: dict[str, float] = {}  # address -> when its lookup started
        self.answers: dict[str, str | None] = {}  # not yet moved to hosts (see Lookups)
        self.alive = 0  # lookup threads, stuck ones included
        # -f: the text shows host names in full; without it, their first label (Windows)
        self.fqdn = False

    def service(self, port: int, proto: str) -> str | None:
        proto = _SERVICE_PROTOCOLS.get(proto, proto)
        if self._services is None:
            try:
                with open(self._services_path, encoding="utf-8", errors="replace") as f:
                    self._services = parse_services(f.read())
            except OSError:
                self._services = {}
        return self._services.get((port, proto))

    def host(self, address: str) -> str | None:
        return self.hosts.get(address)

    def display_host(self, address: str) -> str | None:
        """The name the text table shows: in full with -f, else its first label, as Windows'
        netstat shows names without -f (``db1.example.com`` -> ``db1``). A name that is a
        numeric address (a hosts file may say so) is kept whole."""
        name = self.hosts.get(address)
        if not name or self.fqdn or ":" in name or name.replace(".", "").isdigit():
            return name
        return name.split(".", 1)[0] or name

    def from_files(self, addresses: list[str]) -> list[str]:
        """(Lock held.) Answer what /etc/hosts knows at once, without the network: a lookup
        that the files would answer must not wait for a thread behind lookups stuck on a
        silent DNS server. Returns the addresses left for the resolver."""
        if self._local is None:
            hosts_path, nsswitch_path = self._hosts_paths
            nsswitch = _read(nsswitch_path)
            data = _read(hosts_path) if hosts_file_answers(nsswitch) else None
            self._local = parse_hosts(data) if data else {}
        local = self._local
        left = []
        for address in addresses:
            key = _lookup_address(address)
            if key in local:
                self.hosts[address] = local[key]
            else:
                left.append(address)
        return left

    def resolve_hosts(self, addresses: Iterable[str]) -> None:
        """Look up every new address, concurrently, within the budget."""
        lookups = Lookups(self)
        addresses = list(addresses)
        lookups.submit(addresses)
        lookups.wait(addresses)
        lookups.close()

    def in_order(self, batches: Iterable[SocketBatch]) -> Iterator[SocketBatch]:
        """The batches, each once the foreign hosts in it have answered or the budget is spent.

        Lookups start as batches arrive, so a listing streams as soon as its names are known
        instead of waiting for the last socket; only batches whose lookups are running are
        held."""
        lookups = Lookups(self)
        held: deque[SocketBatch] = deque()
        try:
            for batch in batches:
                lookups.submit(_remotes(batch))
                held.append(batch)
                while held and lookups.ready(_remotes(held[0])):
                    yield held.popleft()
            while held:
                lookups.wait(_remotes(held[0]))
                yield held.popleft()
        finally:
            lookups.close()

    def _staff(self) -> None:
        """(Lock held.) Start threads while the queue has work and fewer than ``workers``
        lookups are not yet overdue."""
        now = time.monotonic()
        slow = sum(1 for since in self.busy.values() if now - since > LOOKUP_TIMEOUT)
        for _ in range(min(len(self.queue), self.workers - (self.alive - slow),
                           MAX_THREADS - self.alive)):
            threading.Thread(target=self._work, daemon=True, name="pynetstat-resolve").start()
            self.alive += 1

    def _work(self) -> None:
        import sys
        from socket import NI_NAMEREQD, gethostbyaddr, getnameinfo

        # CPython before 3.11.4 holds the GIL inside getnameinfo() (python/cpython#104308): one
        # lookup stuck on a silent DNS server froze every thread, the listing never ended.
        # gethostbyaddr() releases it (glibc answers both from the same nsswitch "hosts").
        old_python = sys.version_info < (3, 11, 4)
        while True:
            with self.changed:
                if not self.queue:
                    self.alive -= 1
                    return
                address = self.queue.popleft()
                self.queued.discard(address)
                self.busy[address] = time.monotonic()
            try:
                if old_python:
                    name = gethostbyaddr(_lookup_address(address))[0]
                else:
                    name = getnameinfo((_lookup_address(address), 0), NI_NAMEREQD)[0]
            except (OSError, UnicodeError):
                name = None
            with self.changed:
                self.answers[address] = name
                del self.busy[address]
                self.changed.notify_all()


class Lookups:
    """The host lookups of one display, against one budget that starts with its first lookup.

    Answers reach ``Names.hosts`` only until the budget is spent, so every row of a display
    shows an address the same way; later answers wait in ``Names.answers`` for the next display.
    """

    def __init__(self, names: Names):
        self.names = names
        self.asked: set[str] = set()  # addresses this display waits for
        self.deadline: float | None = None

    def submit(self, addresses: Iterable[str]) -> None:
        names = self.names
        with names.changed:
            self._collect()
            # A lookup still running since an earlier display (names.busy) had its budget: it is
            # not waited for again; its answer is used once it comes.
            new = [a for a in dict.fromkeys(addresses) if a not in names.hosts
                   and a not in self.asked and a not in names.busy and a not in _WILDCARDS]
            if names.budget > 0:  # a budget of 0 asks nothing, not even the files
                new = names.from_files(new)
            if not new:
                return
            if self.deadline is None:
                self.deadline = time.monotonic() + names.budget
            self.asked.update(new)
            for address in new:
                if address not in names.queued:
                    names.queue.append(address)
                    names.queued.add(address)
            names._staff()

    def ready(self, addresses: Iterable[str]) -> bool:
        """Has every address asked for here answered (or is the budget spent)?"""
        with self.names.changed:
            return self._settled(addresses)

    def wait(self, addresses: Iterable[str]) -> None:
        """Block until every address asked for here has answered or the budget is spent."""
        addresses = set(addresses)
        with self.names.changed:
            while not self._settled(addresses):
                assert self.deadline is not None  # without one, _settled is True
                self.names.changed.wait(min(self.deadline - time.monotonic(), LOOKUP_TIMEOUT / 4))

    def close(self) -> None:
        """End of the display: what has not answered stays numeric (asked again next time,
        unless its lookup is still running)."""
        names = self.names
        with names.changed:
            self._collect()
            names.timed_out += len(self.asked - names.hosts.keys())
            names.queue.clear()
            names.queued.clear()

    def _settled(self, addresses: Iterable[str]) -> bool:
        if self.deadline is None:
            return True
        if time.monotonic() >= self.deadline:
            return True
        self._collect()
        self.names._staff()
        hosts = self.names.hosts
        return all(a in hosts for a in self.asked.intersection(addresses))

    def _collect(self) -> None:
        """(Lock held.) Move answers into the cache, unless this display's budget is spent."""
        names = self.names
        if names.answers and (self.deadline is None or time.monotonic() < self.deadline):
            names.hosts.update(names.answers)
            names.answers.clear()


def names_from_environ(environ: dict[str, str]) -> Names:
    """``PYNETSTAT_RESOLVE_BUDGET`` (seconds) overrides the lookup budget."""
    budget = DEFAULT_BUDGET
    raw = environ.get("PYNETSTAT_RESOLVE_BUDGET")
    if raw:
        try:
            budget = max(0.0, float(raw))
        except ValueError:
            pass
    return Names(budget=budget)


def _remotes(batch: object) -> Sequence[str]:
    """The foreign addresses of a batch to look up; none for a kind without them (UNIX, packet)."""
    return getattr(batch, "remote_address", ())
