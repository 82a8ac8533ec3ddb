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
    from collections.abc import Iterable, Iterator

    from pynetstat.model.sockets import SocketBatch

DEFAULT_BUDGET = 2.0  # seconds for all host lookups of one display
DEFAULT_WORKERS = 8
LOOKUP_TIMEOUT = 0.25  # seconds after which a lookup no longer holds one of the workers
MAX_THREADS = 64  # lookup threads of one display, stuck ones included
_WILDCARDS = frozenset({"0.0.0.0", "::", "*"})


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


class Names:
    """Caches of service and host names for one run (or one interval session)."""

    def __init__(self, services_path: str = "/etc/services", budget: float = DEFAULT_BUDGET,
                 workers: int = DEFAULT_WORKERS):
        self.budget = budget
        self.workers = workers
        self._services_path = services_path
        self._services: dict[tuple[int, str], str] | None = None
        self.hosts: dict[str, str | None] = {}  # address -> name, None = looked up, no name
        self.timed_out = 0

    def service(self, port: int, proto: str) -> str | None:
        if self._services is None:
            try:
                with open(self._services_path, encoding="utf-8", errors="replace") as f:
                    self._services = parse_services(f.read())
            except OSError:
                self._services = {}
        return self._services.get((port, proto))

    def host(self, address: str) -> str | None:
        return self.hosts.get(address)

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
        instead of waiting for the last socket; only batches whose lookups are still running
        are held."""
        lookups = Lookups(self)
        held: deque[SocketBatch] = deque()
        try:
            for batch in batches:
                lookups.submit(batch.remote_address)
                held.append(batch)
                while held and lookups.ready(held[0].remote_address):
                    yield held.popleft()
            while held:
                lookups.wait(held[0].remote_address)
                yield held.popleft()
        finally:
            lookups.close()


class Lookups:
    """The host lookups of one display, against one budget that starts with the first lookup.

    ``workers`` lookups run at a time. A lookup that has not answered after ``LOOKUP_TIMEOUT``
    stops counting against that bound (its thread is left to finish or be abandoned) and
    another worker takes the queue on, up to ``MAX_THREADS`` in all: one silent DNS server must
    not keep the names that /etc/hosts knows from being shown. Answers reach ``Names.hosts``
    only until the budget is spent, so every row of a display shows an address the same way.
    """

    def __init__(self, names: Names):
        self.names = names
        self.changed = threading.Condition()
        self.pending: deque[str] = deque()
        self.asked: set[str] = set()  # addresses looked up in this display
        self.results: dict[str, str | None] = {}  # answers not yet moved to names.hosts
        self.busy: dict[str, float] = {}  # address -> when its lookup started
        self.running = 0  # threads in their loop, stuck ones included
        self.started = 0
        self.deadline: float | None = None

    def submit(self, addresses: Iterable[str]) -> None:
        known = self.names.hosts
        new = [a for a in dict.fromkeys(addresses)
               if a not in known and a not in self.asked and a not in _WILDCARDS]
        if not new:
            return
        with self.changed:
            if self.deadline is None:
                self.deadline = time.monotonic() + self.names.budget
            self.asked.update(new)
            self.pending.extend(new)
            self._staff()

    def ready(self, addresses: Iterable[str]) -> bool:
        """Has every address asked for here answered (or is the budget spent)?"""
        with self.changed:
            return self._settled(addresses)

    def wait(self, addresses: Iterable[str]) -> None:
        """Block until every address asked for here has answered or the budget is spent."""
        addresses = set(addresses)
        with self.changed:
            while not self._settled(addresses):
                self.changed.wait(min(self.deadline - time.monotonic(), LOOKUP_TIMEOUT / 4))

    def close(self) -> None:
        """End of the display: what has not answered stays numeric (asked again next time)."""
        with self.changed:
            self._collect()
            self.names.timed_out += len(self.asked - self.names.hosts.keys())
            self.pending.clear()

    def _settled(self, addresses: Iterable[str]) -> bool:
        if self.deadline is None:
            return True
        if time.monotonic() >= self.deadline:
            self.pending.clear()  # late answers are not used in this display
            return True
        self._collect()
        self._staff()
        hosts = self.names.hosts
        return all(a in hosts for a in self.asked.intersection(addresses))

    def _collect(self) -> None:
        if self.results and (self.deadline is None or time.monotonic() < self.deadline):
            self.names.hosts.update(self.results)
        self.results.clear()

    def _staff(self) -> None:
        """Start workers while the queue has work and fewer than ``workers`` lookups are not
        yet overdue."""
        now = time.monotonic()
        slow = sum(1 for since in self.busy.values() if now - since > LOOKUP_TIMEOUT)
        for _ in range(min(len(self.pending), self.names.workers - (self.running - slow),
                           MAX_THREADS - self.started)):
            threading.Thread(target=self._work, daemon=True, name="pynetstat-resolve").start()
            self.running += 1
            self.started += 1

    def _work(self) -> None:
        from socket import NI_NAMEREQD, getnameinfo

        while True:
            with self.changed:
                if not self.pending:
                    self.running -= 1
                    return
                address = self.pending.popleft()
                self.busy[address] = time.monotonic()
            try:
                name = getnameinfo((address, 0), NI_NAMEREQD)[0]
            except (OSError, UnicodeError):
                name = None
            with self.changed:
                self.results[address] = name
                del self.busy[address]
                self.changed.notify_all()


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


