"""SIGINT and SIGTERM in interval mode: both end the run (130, 143), promptly, and with --json
never in the middle of a line that something else follows.

Only loaded with an interval: ``signal`` and ``threading`` are not on the path of a plain -an.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import NoReturn

GRACE = 0.5  # seconds a stalled reader (stdout not writable) may hold a line after a signal
LONGEST = 60.0  # seconds a display whose reader keeps reading may take to finish its line


class Terminated(KeyboardInterrupt):
    """SIGTERM in interval mode. A KeyboardInterrupt, so that one raised after the loop has ended
    is still caught by ``cli.main`` (and ends quietly) rather than printing a traceback."""


def terminate(signum: int, frame: FrameType | None) -> NoReturn:
    raise Terminated


def _writable(fd: int | None) -> bool:
    """Whether a write to ``fd`` would not block now: a pipe whose reader stopped reading is full
    (a regular file always takes more)."""
    if fd is None:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLOUT for _fd, events in poller.poll(0))


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


class HoldLine:
    """With --json, a SIGINT or SIGTERM that comes while a display is written acts once its line
    is whole (``> file``, ``| jq``). The line is cut at once by a second signal (Ctrl+C twice),
    and when its reader stopped reading: stdout still not writable ``GRACE`` seconds after the
    signal (``| (sleep 600)``); at the latest after ``LONGEST``. A pass is written while it is
    collected (rows stream from the kernel's batches): on a loaded 2-core host under socket churn
    a pass of ``-anob`` took 11-21 s, and a grace counted from the signal alone (half a second)
    cut lines that a file (``> out``) would have taken whole. A line cut is the last thing
    written: ``cli.entry`` does not flush what is left after a signal.

    While a line is written both signals are blocked in this thread (pthread_sigmask) and a
    watcher thread takes them (sigtimedwait). They are not caught and put off by a handler that
    returns: a handler that returns while a large write to a full pipe is in progress makes
    CPython's BufferedWriter repeat and drop bytes (3.11 to 3.13; docs/hardening.md). When the
    grace is over, the watcher sends SIGALRM to this thread, whose handler raises: the write
    ends with a clean prefix. A signal that the watcher took after the line was done is sent
    back to this thread, which no longer blocks it.

    Between displays the run sleeps in ``sleep``, which any signal ends (``signal.set_wakeup_fd``):
    a ``time.sleep`` is not ended by a signal that comes after its last check and before the
    system call starts, and the watcher, which needs the GIL to send a signal it took back to
    this thread, gets it exactly then, when this thread lets it go to sleep (a Ctrl+C right
    after a line was lost in 2 of 12 runs under load: the run slept its whole interval).

    Use as ``with hold:`` around each display; ``close()`` at the end of the run."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd  # stdout's, or None (an in-process stream: only LONGEST applies)
        self.signals = {signal.SIGINT, signal.SIGTERM}
        self.main = threading.get_ident()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.writing = False
        self.pending: int | None = None
        self.stopped = False
        self.previous_alarm = signal.signal(signal.SIGALRM, self._cut)
        # each signal handled writes a byte here (in C, at once): ``sleep`` wakes on it
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.previous_wakeup = signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
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

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``, ended by any signal whenever it came: the handler's byte
        is in the wakeup pipe, ``select`` returns, and the handler (SIGINT's, SIGTERM's) raises
        at the next bytecode; a signal whose handler does not raise (SIGALRM with nothing
        pending) leaves the rest of the time to sleep."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if select.select([self.wake_r], [], [], left)[0]:
                try:
                    os.read(self.wake_r, 512)
                except BlockingIOError:
                    pass

    def close(self) -> None:
        """The watcher ends by itself within 0.2 s (not waited for: it sends nothing more, as
        no line is being written and this thread takes the signals again)."""
        self.stopped = True
        signal.signal(signal.SIGALRM, self.previous_alarm)
        signal.set_wakeup_fd(self.previous_wakeup)
        os.close(self.wake_r)
        os.close(self.wake_w)

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
            elif not self._line_ends():
                signal.pthread_kill(self.main, signal.SIGALRM)

    def _line_ends(self) -> bool:
        """Whether the line being written ends: False (cut it now) on a second signal, once
        stdout stays unwritable through a ``GRACE`` (its reader stopped reading), or after
        ``LONGEST``."""
        deadline = time.monotonic() + LONGEST
        while not self.done.is_set():
            if signal.sigtimedwait(self.signals, GRACE) is not None:
                return False
            if self.done.is_set():
                break
            if time.monotonic() >= deadline or not _writable(self.fd):
                return False
        return True

    def _cut(self, signum: int, frame: FrameType | None) -> None:
        """SIGALRM from the watcher: the line did not end in time; the signal acts now."""
        pending, self.pending = self.pending, None
        if pending is not None:
            raise _interrupt(pending)
