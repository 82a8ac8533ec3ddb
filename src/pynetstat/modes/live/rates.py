"""The live view's rates, pure (no Textual, no kernel): bytes per second of each TCP connection
(``--info``: its Send/s, Recv/s and RTT columns) and the counters screen's rates and sparklines.

A rate is a difference between two readings over the seconds between them. Nothing is invented:
a connection first seen in this reading has no rate yet (``None``, shown ``-``), as has every
connection at the first reading; a counter that went backwards (a reset, a 32-bit wrap) has no
rate for that refresh (model/changes.counter_changes says ``reset``).
"""

from __future__ import annotations

from collections import deque

from pynetstat.model.changes import counter_changes
from pynetstat.model.passes import ByteRates, byte_columns
from pynetstat.textsafe import safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Sequence

    from pynetstat.model.sockets import SocketBatch

INFO_COLUMNS = ("Send/s", "Recv/s", "RTT ms")
NONE = "-"  # a value not known (yet): never a 0 that was not measured
SPARK = "▁▂▃▄▅▆▇█"  # no traffic, then seven heights up to the largest
HISTORY = 30  # rates kept per counter for its sparkline
COUNTER_COLUMNS = ("View", "Counter", "Value", "Rate/s", "Recent rates")
VIEW_FLAGS = {"statistics": "-s", "interfaces": "-e"}


class Reading:
    """One connection's ``--info`` values at a reading: bytes per second sent (acked by the
    peer) and received since the reading before (``None``: not known), its smoothed RTT in
    microseconds (``None``: no tcp_info)."""

    __slots__ = ("send", "receive", "rtt_us")

    def __init__(self, send: float | None, receive: float | None, rtt_us: int | None):
        self.send, self.receive, self.rtt_us = send, receive, rtt_us

    def cells(self) -> tuple[str, str, str]:
        """``Send/s``, ``Recv/s`` (whole bytes per second), ``RTT ms`` (three decimals).

        >>> Reading(409612.4, 0.0, 52).cells()
        ('409612', '0', '0.052')
        >>> Reading(None, None, None).cells()
        ('-', '-', '-')
        """
        return (NONE if self.send is None else f"{self.send:.0f}",
                NONE if self.receive is None else f"{self.receive:.0f}",
                NONE if self.rtt_us is None else f"{self.rtt_us / 1000:.3f}")

    def __repr__(self) -> str:
        return f"Reading({self.send!r}, {self.receive!r}, {self.rtt_us!r})"


class Throughput:
    """Each TCP connection's ``Reading``, reading after reading: the rates are
    model/passes.ByteRates' (interval mode's ``--info`` rates), by the row's key (the cookie)."""

    def __init__(self) -> None:
        self.rates = ByteRates()

    def reset(self) -> None:
        self.rates.reset()

    def update(self, batches: Iterable[SocketBatch], keys: Iterable[Sequence[Hashable]],
               now: float) -> dict[Hashable, Reading]:
        """Each TCP row's ``Reading`` (rows without tcp_info: none), by key; the counts become
        the next reading's reference. ``keys``: the rows' keys, batch by batch
        (model/changes.Snapshot.keys)."""
        rates = self.rates
        rates.start(now)
        out: dict[Hashable, Reading] = {}
        for batch, batch_keys in zip(batches, keys):
            extensions = batch.extensions
            if not extensions:
                continue
            send, receive = rates.batch(batch_keys, *byte_columns(extensions))
            for key, ext, out_rate, in_rate in zip(batch_keys, extensions, send, receive):
                info = None if ext is None else ext.info
                if info is not None:
                    out[key] = Reading(out_rate, in_rate, info.rtt)
        rates.finish()
        return out


def sparkline(rates: Iterable[float | None]) -> str:
    """One character per rate, its height against the largest: the lowest bar for no traffic,
    a space where no rate is known (the first refresh, a reset).

    >>> sparkline([0, 1, 2, 4, 8, None])
    '▁▂▃▅█ '
    >>> sparkline([None, 0, 0])
    ' ▁▁'
    """
    values = list(rates)
    top = max((r for r in values if r is not None), default=0.0)
    last = len(SPARK) - 1
    return "".join(" " if r is None else SPARK[0] if r <= 0 or not top else
                   SPARK[max(1, round(r / top * last))] for r in values)


class CounterRow:
    """One counter on the counters screen: its view (``statistics``, ``interfaces``), name,
    value, rate per second over the last refresh (``None``: not known) and recent rates."""

    __slots__ = ("view", "name", "value", "rate", "history")

    def __init__(self, view: str, name: str, value: int, history: int = HISTORY):
        self.view, self.name, self.value = view, name, value
        self.rate: float | None = None
        self.history: deque[float | None] = deque(maxlen=history)

    def cells(self) -> tuple[str, str, str, str, str]:
        """``COUNTER_COLUMNS``: the view's flag, the counter's name (escaped: an interface's
        name is the kernel's bytes), value, rate per second, the sparkline of recent rates.

        >>> row = CounterRow("interfaces", "[b]x\x1b.rx_bytes", 12)
        >>> row.rate = 2.5
        >>> row.cells()
        ('-e', '[b]x\\\\x1b.rx_bytes', '12', '2.5', '')
        """
        rate = NONE if self.rate is None else f"{self.rate:.1f}"
        return (VIEW_FLAGS.get(self.view, self.view), safe(self.name), str(self.value), rate,
                sparkline(self.history))

    def __repr__(self) -> str:
        return f"CounterRow({self.name!r}, {self.value}, rate={self.rate!r})"


class Counters:
    """The counters of the ``-s`` and ``-e`` views, reading after reading: each one's value and
    rate per second since the reading before (model/changes.counter_changes), and its last
    ``history`` rates for a sparkline."""

    def __init__(self, history: int = HISTORY):
        self.history = history
        self.rows: dict[tuple[str, str], CounterRow] = {}
        self.before: dict[str, dict[str, int]] = {}
        self.when: float | None = None

    def reset(self) -> None:
        """The next reading has nothing to measure against (the screen was not shown: a rate
        over that gap would not be the last refresh's)."""
        self.before, self.when = {}, None

    def update(self, readings: dict[str, dict[str, int]], now: float) -> list[CounterRow]:
        """``readings``: view key -> counters of one reading (``view.counters(snapshot)``).
        Returns the rows, in the views' order and each view's counter order."""
        seconds = None if self.when is None else now - self.when
        rows: dict[tuple[str, str], CounterRow] = {}
        for view, values in readings.items():
            rates: dict[str, float | None] = {}
            before = self.before.get(view)
            if before is not None and seconds:
                for change in counter_changes(view, before, values, seconds,
                                              from_zero=view == "statistics"):
                    if change.kind == "moved":
                        rates[change.name] = change.rate
            for name, value in values.items():
                row = self.rows.get((view, name))
                if row is None:
                    row = CounterRow(view, name, value, self.history)
                    known = False
                else:
                    known = True
                row.value = value
                # known and not moved: still (0/s); new, or reset: not known
                row.rate = rates.get(name, 0.0 if known and before is not None
                                     and value == before.get(name) else None)
                if before is not None and seconds:
                    row.history.append(row.rate)
                rows[(view, name)] = row
        self.rows, self.before, self.when = rows, dict(readings), now
        return list(rows.values())
