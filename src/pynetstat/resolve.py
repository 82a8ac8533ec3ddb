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
    from collections.abc import Iterable

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
        """Look up every new address, concurrently, within the budget.

        ``workers`` lookups run at a time. A lookup that has not answered after
        ``LOOKUP_TIMEOUT`` stops counting against that bound (its thread is left to finish or be
        abandoned) and another worker takes the queue on, up to ``MAX_THREADS`` in all: one
        silent DNS server must not keep the names that /etc/hosts knows from being shown.
        """
        todo = [a for a in dict.fromkeys(addresses) if a not in self.hosts and a not in _WILDCARDS]
        if not todo:
            return
        results: dict[str, str | None] = {}
        changed = threading.Condition()
        pending = deque(todo)
        busy: dict[str, float] = {}  # address -> when its lookup started

        running = 0  # threads in their loop, stuck ones included
        started = 0

        def work() -> None:
            from socket import NI_NAMEREQD, getnameinfo

            nonlocal running
            while True:
                with changed:
                    if not pending:
                        running -= 1
                        return
                    address = pending.popleft()
                    busy[address] = time.monotonic()
                try:
                    name = getnameinfo((address, 0), NI_NAMEREQD)[0]
                except (OSError, UnicodeError):
                    name = None
                with changed:
                    results[address] = name
                    del busy[address]
                    changed.notify()

        deadline = time.monotonic() + self.budget
        with changed:
            while len(results) < len(todo):
                now = time.monotonic()
                if now >= deadline:
                    break
                slow = sum(1 for since in busy.values() if now - since > LOOKUP_TIMEOUT)
                for _ in range(min(len(pending), self.workers - (running - slow), MAX_THREADS - started)):
                    threading.Thread(target=work, daemon=True, name="pynetstat-resolve").start()
                    running += 1
                    started += 1
                changed.wait(min(deadline - now, LOOKUP_TIMEOUT / 4))
            for address in todo:
                if address in results:
                    self.hosts[address] = results[address]
                else:
                    self.timed_out += 1  # still numeric; asked again on the next display
            pending.clear()


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


