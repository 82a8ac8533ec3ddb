"""What a run measures of its sockets from one reading to the next: pure, no kernel, no I/O.

Two trackers, each fed a reading batch by batch (``start(now)``, ``batch(...)`` per batch,
``finish()``), the sockets known by their key (model/changes.socket_keys: the cookie):

- ``ByteRates``: bytes per second each TCP connection sent (``bytes_acked``: acknowledged by the
  peer) and received (``bytes_received``) since the reading before, over the seconds between the
  two readings. A connection first read in this reading has no rate yet (``None``: not 0, which
  would be a measurement); neither has any connection at the first reading.
- ``StateAges``: how long this run has seen each socket in its current state: the seconds since
  the first reading that saw it in that state. A lower bound on its time in state (Linux does not
  record when a socket entered its state), ``None`` on that first reading; a state change starts
  it over.

Interval mode (``--info``, ``-i``), ``-c --info`` and the live view share them.
"""

from __future__ import annotations

from itertools import repeat
from operator import sub, truediv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence
    from typing import Any

    Rates = list[float | None]

_COUNTS = ("bytes_acked", "bytes_received")


def byte_columns(extensions: Any, more: tuple[str, ...] = ()
                 ) -> tuple[Sequence[int | None], Sequence[int | None]]:
    """``(bytes_acked, bytes_received)`` of each socket of a batch's ``extensions`` column
    (``None`` where it has no tcp_info, or a struct before Linux 4.1 that lacks them): straight
    from the dump's buffer for a run of messages (``linux.diagext.RunExtensions.info_columns``,
    no record per socket; ``more``: the fields the display reads after, in the same pass), else
    from each record's ``info``."""
    run_columns = getattr(extensions, "info_columns", None)
    if run_columns is not None:
        columns = run_columns(_COUNTS, more)
        if columns == {}:  # no tcp_info in the run (UDP, TIME_WAIT)
            return (None,) * len(extensions), (None,) * len(extensions)
        if columns is not None:
            return columns["bytes_acked"], columns["bytes_received"]
    acked: list[int | None] = []
    received: list[int | None] = []
    for ext in extensions:
        info = None if ext is None else ext.info
        acked.append(None if info is None else info.bytes_acked)
        received.append(None if info is None else info.bytes_received)
    return acked, received


class ByteRates:
    """The byte counts of each connection at the last reading, by key, and when it was taken:
    two dicts (acked, received), so that a batch is measured a column at a time (``_whole``)."""

    def __init__(self) -> None:
        self.before: tuple[dict[Hashable, int], dict[Hashable, int]] = ({}, {})
        self.when: float | None = None
        self.seconds: float | None = None  # of the reading in progress: since the one before
        self.moved: tuple[dict[Hashable, int], dict[Hashable, int]] = ({}, {})  # in progress
        self.now = 0.0

    def reset(self) -> None:
        """The next reading has nothing to measure against."""
        self.before, self.when = ({}, {}), None

    def start(self, now: float) -> float | None:
        """A reading taken at ``now`` begins; returns the seconds since the one before (None:
        the first reading, or a clock that did not move)."""
        self.now, self.moved = now, ({}, {})
        seconds = None if self.when is None else now - self.when
        self.seconds = seconds if seconds is not None and seconds > 0 else None
        return self.seconds

    def batch(self, keys: Sequence[Hashable], acked: Sequence[int | None],
              received: Sequence[int | None], *, from_zero: bool = False
              ) -> tuple[Rates, Rates]:
        """Send and receive rates of each row (``None``: not known), in bytes per second. A row
        whose counts are ``None`` (no tcp_info: UDP, TIME_WAIT) has none and is not kept.
        ``from_zero``: a key not in the reading before moved all its bytes since then (-c's
        per-process sums: the connection opened between the readings), else it has no rate.

        >>> rates = ByteRates()
        >>> rates.start(10.0)
        >>> rates.batch([1, 2], [100, None], [50, None])
        ([None, None], [None, None])
        >>> rates.finish()
        >>> rates.start(12.0)
        2.0
        >>> rates.batch([1, 3], [500, 7], [50, 8])
        ([200.0, None], [0.0, None])
        >>> rates.finish()
        >>> rates.start(14.0)
        2.0
        >>> rates.batch([1, 3], [700, 7], [60, 8])
        ([100.0, 0.0], [5.0, 0.0])
        >>> rates.batch([4, 5], [9, 1], [0, 0], from_zero=True)
        ([4.5, 0.5], [0.0, 0.0])
        """
        if None not in acked and None not in received:
            made = self._whole(keys, acked, received, from_zero)
            if made is not None:
                return made
        moved_acked, moved_received = self.moved
        seconds = self.seconds
        get_acked, get_received = self.before[0].get, self.before[1].get
        nothing = 0 if from_zero else None
        send: Rates = []
        receive: Rates = []
        for key, a, r in zip(keys, acked, received):
            if a is None or r is None:
                send.append(None)
                receive.append(None)
                continue
            moved_acked[key], moved_received[key] = a, r
            was_a, was_r = get_acked(key, nothing), get_received(key, nothing)
            # counts only grow on one connection; less means another socket took the key
            # (never with cookies): no rate rather than a negative one
            if seconds is None or was_a is None or was_r is None or a < was_a or r < was_r:
                send.append(None)
                receive.append(None)
            else:
                send.append((a - was_a) / seconds)
                receive.append((r - was_r) / seconds)
        return send, receive

    def _whole(self, keys: Sequence[Hashable], acked: Sequence[Any], received: Sequence[Any],
               from_zero: bool) -> tuple[Rates, Rates] | None:
        """``batch`` for a batch whose every row has counts (a run of connections), a column at
        a time (``map`` in C: at 200k sockets the row-by-row loop cost a tenth of a pass);
        ``None`` when some row is new or went backwards (then row by row)."""
        n = len(keys)
        seconds = self.seconds
        if seconds is None:
            self.moved[0].update(zip(keys, acked))
            self.moved[1].update(zip(keys, received))
            return [None] * n, [None] * n
        nothing = repeat(0 if from_zero else None)
        was_acked: list[Any] = list(map(self.before[0].get, keys, nothing))
        if None in was_acked:
            return None
        sent = list(map(sub, acked, was_acked))
        got = list(map(sub, received, map(self.before[1].get, keys, nothing)))
        if n and (min(sent) < 0 or min(got) < 0):
            return None
        self.moved[0].update(zip(keys, acked))
        self.moved[1].update(zip(keys, received))
        return _per_second(sent, seconds), _per_second(got, seconds)

    def finish(self) -> None:
        """The reading is whole: it is what the next one is measured against."""
        self.before, self.when = self.moved, self.now
        self.moved = ({}, {})


def _per_second(deltas: list[int], seconds: float) -> Rates:
    """Each delta over ``seconds``; a column of idle connections' 0s without a division each."""
    n = len(deltas)
    if deltas.count(0) == n:
        return [0.0] * n
    return list(map(truediv, deltas, repeat(seconds, n)))


class StateAges:
    """When this run first saw each socket in the state it is in."""

    def __init__(self) -> None:
        self.since: dict[Hashable, tuple[int, float]] = {}  # key -> (state, first seen in it)
        self.seen: dict[Hashable, tuple[int, float]] = {}  # the reading in progress
        self.now = 0.0

    def start(self, now: float) -> None:
        self.now, self.seen = now, {}

    def batch(self, keys: Sequence[Hashable], states: Sequence[int]) -> Rates:
        """Each row's seconds in its state as seen by this run (``None``: first seen in it now).

        >>> ages = StateAges()
        >>> ages.start(5.0)
        >>> ages.batch(["a"], [1])
        [None]
        >>> ages.finish()
        >>> ages.start(7.5)
        >>> ages.batch(["a", "b"], [1, 1])
        [2.5, None]
        >>> ages.finish()
        >>> ages.start(9.0)
        >>> ages.batch(["a"], [8])
        [None]
        """
        get = self.since.get
        seen = self.seen
        now = self.now
        out: Rates = []
        for key, state in zip(keys, states):
            was = get(key)
            if was is None or was[0] != state:
                seen[key] = (state, now)
                out.append(None)
            else:
                seen[key] = was
                out.append(now - was[1])
        return out

    def finish(self) -> None:
        self.since, self.seen = self.seen, {}


class Measure:
    """One row's measures: ``seconds`` between its two readings (None: the run's first reading),
    ``send`` and ``receive`` rates in bytes per second (None: not known, see ``ByteRates``),
    ``seen`` seconds in its state seen by this run (None: first seen in it, or not measured);
    ``closed``: the socket is gone and these are its last (a ``--changes`` ``-`` row)."""

    __slots__ = ("seconds", "send", "receive", "seen", "closed")

    def __init__(self, seconds: float | None, send: float | None, receive: float | None,
                 seen: float | None, closed: bool = False):
        self.seconds, self.send, self.receive, self.seen = seconds, send, receive, seen
        self.closed = closed

    def __repr__(self) -> str:
        return (f"Measure({self.seconds!r}, {self.send!r}, {self.receive!r}, {self.seen!r}"
                f"{', closed' if self.closed else ''})")


class Measures:
    """A batch's measures by column (``SocketBatch.measures``): ``send``, ``receive`` (None: rates
    not asked for) and ``seen`` (None: not asked for), one value per row, and the ``seconds``
    between this reading and the one before (None: the run's first reading)."""

    __slots__ = ("seconds", "send", "receive", "seen")

    def __init__(self, seconds: float | None, send: Rates | None, receive: Rates | None,
                 seen: Rates | None):
        self.seconds, self.send, self.receive, self.seen = seconds, send, receive, seen

    def row(self, i: int, closed: bool = False) -> Measure:
        return Measure(self.seconds, None if self.send is None else self.send[i],
                       None if self.receive is None else self.receive[i],
                       None if self.seen is None else self.seen[i], closed)
