"""Etiquette: a closed pipe, Ctrl+C and SIGTERM end pynetstat quietly with the documented status
(cli.py, errors.Exit): 130 on SIGINT, 143 on SIGTERM, 141 (or 0 when the output was already all
written) when the reader goes away. Nothing on stderr, in every mode: -an, -anob, --json, -s,
-e, -r, and each of them with an interval.

The signal is sent while pynetstat is in the middle of its work, not before it has started: when
it is blocked writing into a full pipe (stdout is a pipe shrunk to one page that the test does
not read until the signal is sent), or, in interval mode, during the pause between passes.
A signal during the interpreter's own start-up (before any pynetstat code runs) prints Python's
traceback; nothing in pynetstat can catch that (see docs/hardening.md).
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import termios
import threading
import time

import pytest

from .check import assert_quiet_stderr, close_hard, command, subprocess_env

F_SETPIPE_SZ = 1031
PAIRS = 700  # ~1,400 rows of -an: more than a pipe holds (64 KiB)
ONE_SHOT = [["-an"], ["-anob"], ["-an", "--json"], ["-sv"]]
SMALL = [["-s"], ["-e"], ["-r"]]  # their whole output fits in a pipe
INTERVAL = [["-an", "0.05"], ["-anob", "--json", "0.05"], ["-an", "--changes", "0.05"],
            ["-s", "0.05"], ["-e", "0.05"], ["-r", "0.05"], ["-sv", "--json", "0.05"]]
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


@pytest.fixture(scope="module")
def crowd():
    """Enough established loopback connections that -an outgrows any pipe."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(PAIRS)
    held = [listener]
    for _ in range(PAIRS):
        c = socket.create_connection(listener.getsockname())
        a, _ = listener.accept()
        held += [c, a]
    yield
    close_hard(held)


def start(argv: list[str], stdout) -> subprocess.Popen:
    return subprocess.Popen(command(argv), stdout=stdout, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=subprocess_env())


def finish(p: subprocess.Popen, timeout: float = 20) -> tuple[int, bytes]:
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("pynetstat did not end") from None
    return p.returncode, err


@pytest.mark.parametrize("argv", ONE_SHOT + SMALL + INTERVAL, ids=" ".join)
def test_head_one_line(crowd, argv):
    """``pynetstat ... | head -1``: the reader takes one line and goes."""
    p = start(argv, subprocess.PIPE)
    first = p.stdout.readline()
    assert first, "no output at all"
    p.stdout.close()
    status, err = finish(p)
    assert_quiet_stderr(err.decode())  # a note on what could not be seen may come first
    assert status == 141 or (status == 0 and "0.05" not in argv), status


@pytest.mark.parametrize("argv", [a for a in ONE_SHOT + INTERVAL if "--json" in a] +
                         [["-s", "--json"], ["-r", "--json"], ["-e", "--json", "0.05"]], ids=" ".join)
def test_json_head_c_10(crowd, argv):
    """``pynetstat --json | head -c 10``."""
    p = start(argv, subprocess.PIPE)
    assert len(p.stdout.read(10)) == 10
    p.stdout.close()
    status, err = finish(p)
    assert_quiet_stderr(err.decode())
    assert status in (0, 141)


def small_pipe() -> tuple[int, int]:
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    return r, w


def wait_until_blocked(p: subprocess.Popen, r: int, seconds: float = 15) -> bool:
    """True once pynetstat sleeps in a write to the full pipe, False if it ended first. The
    kernel says where a task sleeps in /proc/PID/wchan (``pipe_write``, ``anon_pipe_write``);
    where that is not shown, a pipe whose content stops growing is taken as full."""
    end = time.monotonic() + seconds
    last, still = -1, 0
    while time.monotonic() < end:
        if p.poll() is not None:
            return False
        try:
            with open(f"/proc/{p.pid}/wchan") as f:
                if "pipe_write" in f.read():
                    return True
        except OSError:
            pass
        pending = int.from_bytes(fcntl.ioctl(r, termios.FIONREAD, b"\0\0\0\0"), "little")
        still = still + 1 if pending == last and pending > 0 else 0
        if still >= 50:
            return True
        last = pending
        time.sleep(0.01)
    raise AssertionError("the pipe never filled")


def drain(r: int) -> threading.Thread:
    """Read the pipe to its end on a thread (pynetstat may never end: finish() times out)."""
    def read():
        with os.fdopen(r, "rb") as f:
            while f.read(1 << 16):
                pass
    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("argv", ONE_SHOT + INTERVAL, ids=" ".join)
def test_signal_while_writing(crowd, argv, sig):
    """The signal lands in a blocked write, in the middle of the output."""
    r, w = small_pipe()
    p = start(argv, w)
    os.close(w)
    try:
        assert wait_until_blocked(p, r), "pynetstat ended before the pipe filled"
        p.send_signal(sig)
    finally:
        drain(r)
    status, err = finish(p)
    assert_quiet_stderr(err.decode())
    if sig == signal.SIGTERM and "0.05" not in argv:
        # One display: SIGTERM keeps its default action, as for any command (the shell shows 143).
        assert status in (-signal.SIGTERM, 143), status
    else:
        assert status == STATUS[sig], status


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("argv", [[a[0], "0.3"] for a in SMALL] + [["-an", "0.3"], ["-a", "0.3"]],
                         ids=" ".join)
def test_signal_during_the_pause(argv, sig):
    """Interval mode: the signal lands while pynetstat sleeps between two passes (and, for -a
    without -n, between host name lookups)."""
    p = start(argv, subprocess.PIPE)
    assert p.stdout.readline(), "no first display"
    time.sleep(0.45)  # past the second pass, into the next pause
    p.send_signal(sig)
    status, err = finish(p)
    assert_quiet_stderr(err.decode())
    assert status == STATUS[sig], status


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("argv", [["-anob", "0.02"], ["-s", "0.02"], ["-e", "0.02"], ["-r", "0.02"]],
                         ids=" ".join)
def test_signal_at_any_moment_of_an_interval(argv, sig):
    """Many runs, the signal at a different moment of the passes each time."""
    for i in range(40):
        p = start(argv, subprocess.PIPE)
        assert p.stdout.readline()
        time.sleep(0.003 * i)
        p.send_signal(sig)
        status, err = finish(p)
        assert_quiet_stderr(err.decode())
        assert status == STATUS[sig], (i, status)
