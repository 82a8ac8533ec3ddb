"""SIGINT and SIGTERM in interval mode: both end the run (130, 143), promptly, and with --json
never in the middle of a line that something else follows.

Only loaded with an interval: ``signal`` and ``threading`` are not on the path of a plain -an.
"""

from __future__ import annotations

import signal
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import NoReturn

GRACE = 0.5  # seconds a display may take to finish its line after a signal, before it is cut


class Terminated(KeyboardInterrupt):
    """SIGTERM in interval mode. A KeyboardInterrupt, so that one raised after the loop has ended
    is still caught by ``cli.main`` (and ends quietly) rather than printing a traceback."""


def terminate(signum: int, frame: FrameType | None) -> NoReturn:
    raise Terminated


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


class HoldLine:
    """With --json, a SIGINT or SIGTERM that comes while a display is written acts once its line
    is whole (``> file``, ``| jq``), or after ``GRACE`` seconds if the line is still not whole: a
    reader that stopped reading cannot keep the run alive (``| (sleep 600)``). A line cut then is
    the last thing written: ``cli.entry`` does not flush what is left after a signal.

    While a line is written both signals are blocked in this thread (pthread_sigmask) and a
    watcher thread takes them (sigtimedwait). They are not caught and put off by a handler that
    returns: a handler that returns while a large write to a full pipe is in progress makes
    CPython's BufferedWriter repeat and drop bytes (3.11 to 3.13; docs/hardening.md). When the
    grace is over, the watcher sends SIGALRM to this thread, whose handler raises: the write
    ends with a clean prefix. A signal that the watcher took after the line was done is sent
    back to this thread, which no longer blocks it.

    Use as ``with hold:`` around each display; ``close()`` at the end of the run."""

    def __init__(self) -> None:
        self.signals = {signal.SIGINT, signal.SIGTERM}
        self.main = threading.get_ident()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.writing = False
        self.pending: int | None = None
        self.stopped = False
        self.previous_alarm = signal.signal(signal.SIGALRM, self._cut)
        # The watcher must block both signals for sigtimedwait: a thread starts with the mask of
        # the thread that starts it.
        signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)
        try:
            self.watcher = threading.Thread(target=self._watch, name="pynetstat-signals", daemon=True)
            self.watcher.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.signals)

    def __enter__(self) -> None:
        with self.lock:
            self.writing, self.pending = True, None
            self.done.clear()
        signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """The line is whole (or the display failed): a signal that came meanwhile acts now."""
        with self.lock:
            self.writing = False
            signum, self.pending = self.pending, None
            self.done.set()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self.signals)
        if signum is not None and exc_type is None:
            raise _interrupt(signum)

    def close(self) -> None:
        """The watcher ends by itself within 0.2 s (not waited for: it sends nothing more, as
        no line is being written and this thread takes the signals again)."""
        self.stopped = True
        signal.signal(signal.SIGALRM, self.previous_alarm)

    def _watch(self) -> None:
        while not self.stopped:
            info = signal.sigtimedwait(self.signals, 0.2)
            if info is None:
                continue
            with self.lock:
                writing = self.writing
                if writing and self.pending is None:
                    self.pending = info.si_signo
            if not writing:  # the line ended meanwhile: the main thread takes signals again
                signal.pthread_kill(self.main, info.si_signo)
            elif not self.done.wait(GRACE):
                signal.pthread_kill(self.main, signal.SIGALRM)

    def _cut(self, signum: int, frame: FrameType | None) -> None:
        """SIGALRM from the watcher: the line did not end in time; the signal acts now."""
        pending, self.pending = self.pending, None
        if pending is not None:
            raise _interrupt(pending)
