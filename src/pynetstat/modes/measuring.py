"""The measures interval mode adds to each pass (model/passes.py): with ``--info`` each TCP
connection's send and receive rate since the pass before, with ``-i`` how long the run has seen
each socket in its state. Attached to each batch as it goes by (``SocketBatch.measures``), for
the formats to print under the row (render/extensions.py) and in its JSON (extensions_json.py).
"""

from __future__ import annotations

from pynetstat.model.changes import socket_keys
from pynetstat.model.passes import ByteRates, Measures, StateAges, byte_columns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pynetstat.model.sockets import SocketBatch
    from pynetstat.options import Options


class Measuring:
    """``batches(...)`` over a pass's batches, ``finish()`` once they are all written. A reading
    is timed when its first batch arrives (the dump is being read), not when the pass began
    (the first pass's imports would count as time between readings)."""

    def __init__(self, clock: Callable[[], float], rates: bool, ages: bool,
                 more: tuple[str, ...] = ()):
        self.clock = clock
        self.more = more  # the tcp_info fields the display reads after the rates' two counts
        self.rates = ByteRates() if rates else None
        self.ages = StateAges() if ages else None
        self.seconds: float | None = None
        self.started = False

    @classmethod
    def of(cls, opts: Options, clock: Callable[[], float]) -> Measuring | None:
        """The measures the options ask for, or None (not in interval mode, or none asked)."""
        if opts.interval is None or not (opts.info or opts.times):
            return None
        more: tuple[str, ...] = ()
        if opts.info and not (opts.json or opts.csv or opts.changes):
            # the text's --info line under every row: its fields read with the counts, in one
            # pass over each run (JSON, CSV and --changes rows read records instead)
            from pynetstat.render.extensions import line_fields

            more = line_fields(opts.extension_groups)
        return cls(clock, bool(opts.info), bool(opts.times), more)

    def _start(self) -> None:
        now = self.clock()
        self.started = True
        self.seconds = None if self.rates is None else self.rates.start(now)
        if self.ages is not None:
            self.ages.start(now)

    def batches(self, batches: Iterable[SocketBatch]) -> Iterator[SocketBatch]:
        rates, ages = self.rates, self.ages
        for batch in batches:
            if not self.started:
                self._start()
            if batch.extensions is not None and len(batch):
                keys = socket_keys(batch)
                send = receive = seen = None
                if rates is not None:
                    acked, received = byte_columns(batch.extensions, self.more)
                    send, receive = rates.batch(keys, acked, received)
                if ages is not None:
                    seen = ages.batch(keys, batch.state)
                batch.measures = Measures(self.seconds, send, receive, seen)
            yield batch

    def finish(self) -> None:
        if not self.started:  # a pass with no socket at all
            self._start()
        self.started = False
        if self.rates is not None:
            self.rates.finish()
        if self.ages is not None:
            self.ages.finish()
