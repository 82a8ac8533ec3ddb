"""A JSON Lines reader that stopped reading (issue 21 item 2): ``pynetstat -an --json 1 |
(sleep 600)``. SIGTERM and SIGINT end the run within a second whatever the reader does; a line is
cut only if it is the last thing written (readers of JSON Lines drop a truncated last line).

Before, both signals were blocked while a display was written, so that no line was ever cut: with
a reader that never reads, the display never ended and only SIGKILL stopped pynetstat.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from .check import assert_quiet_stderr
from .test_etiquette import STATUS, crowd, finish, small_pipe, start, wait_until_blocked  # noqa: F401

STALLED = [["-an", "--json", "1"], ["-anob", "--json", "0.2"], ["-an", "--json", "--changes", "0.2"],
           ["-sv", "--json", "0.2"], ["-e", "--json", "0.2"]]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("argv", STALLED, ids=" ".join)
def test_signal_ends_the_run_while_the_reader_is_stalled(crowd, argv, sig):  # noqa: F811
    r, w = small_pipe()
    p = start(argv, w)
    os.close(w)
    try:
        assert wait_until_blocked(p, r), "pynetstat ended before the pipe filled"
        sent = time.monotonic()
        p.send_signal(sig)
        while p.poll() is None and time.monotonic() < sent + 5:
            time.sleep(0.01)
        took = time.monotonic() - sent
        alive = p.poll() is None
        if alive:
            p.kill()
        status, err = finish(p)
        with os.fdopen(r, "rb") as f:  # now read what was written: never read before the end
            written = f.read()
    finally:
        if p.poll() is None:
            p.kill()
    assert not alive and took < 1.0, f"still running {took:.1f} s after the signal"
    assert_quiet_stderr(err.decode())
    assert status == STATUS[sig], status
    lines = written.split(b"\n")
    for line in lines[:-1]:  # every line but the last whole; the last may be cut
        assert isinstance(json.loads(line), dict)
