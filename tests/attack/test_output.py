"""Outputs that cannot take what is written (issue 21 item 1): stdout on /dev/full, stdout closed,
stderr closed, and output encodings that cannot carry every character (PYTHONIOENCODING=ascii,
latin-1, the C locale without UTF-8 mode). In every mode, as users run it (subprocesses): a write
error is one line on stderr when there is a stderr, and exit status 1; a character the encoding
cannot carry is escaped the project's way (docs/escaping.md: ``\\u00e9``), never a traceback.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from .check import (
    assert_quiet_stderr,
    command,
    parse_json,
    parse_json_lines,
    parse_table,
    subprocess_env,
)

ONE_SHOT = [["-an"], ["-anob"], ["-anobv"], ["-an", "--json"], ["-s"], ["-sv", "--json"], ["-e"],
            ["-r"], ["-r", "--json"], ["--help"]]
INTERVAL = [["-an", "0.05"], ["-anob", "--json", "0.05"], ["-anob", "--changes", "0.05"], ["-s", "0.05"],
            ["-e", "--json", "0.05"], ["-r", "--changes", "0.05"]]
ENCODINGS = {"ascii": {"PYTHONIOENCODING": "ascii"}, "latin-1": {"PYTHONIOENCODING": "latin-1"},
             "C locale": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
                          "PYTHONIOENCODING": ""}}
CHARSET = {"ascii": "ascii", "latin-1": "latin-1", "C locale": "ascii"}
COMM = "caf\u00e9\u00e9"
EXE = "caf\u00e9-\u65e5\u672c\u8a9e"

CHILD = textwrap.dedent("""
    import socket, sys, time
    with open("/proc/self/comm", "wb") as f:
        f.write(sys.argv[1].encode())
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    print(s.getsockname()[1], flush=True)
    time.sleep(120)
""")


@pytest.fixture(scope="module")
def named_process():
    """A Python copied to an executable named ``café-日本語`` that calls itself ``caféé``, listening
    on loopback: what -b shows is not ASCII."""
    base = tempfile.mkdtemp(prefix="pynetstat-output-")
    exe = os.path.join(base, EXE)
    shutil.copy(os.path.realpath(sys.executable), exe)
    p = subprocess.Popen([exe, "-c", CHILD, COMM], env=dict(os.environ, PYTHONHOME=sys.base_prefix),
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        yield int(p.stdout.readline())
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(base, ignore_errors=True)


def run(argv, *, stdout, stderr=subprocess.PIPE, env=None, close=None, until=None):
    """pynetstat ``argv``; ``close``: a fd closed in the child before it starts; an interval run
    is ended by SIGINT once ``until(what stdout, a pipe, holds)`` (or 30 s: on a loaded host a
    first -b display walks every process's fds), or by itself."""
    preexec = (lambda: os.close(close)) if close is not None else None
    p = subprocess.Popen(command(argv), stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                         env=subprocess_env(env), preexec_fn=preexec)
    out = b""
    if until is not None and stdout == subprocess.PIPE:
        end = time.monotonic() + 30
        while not until(out) and time.monotonic() < end:
            if select.select([p.stdout], [], [], 0.2)[0]:
                chunk = os.read(p.stdout.fileno(), 1 << 20)
                if not chunk:
                    break
                out += chunk
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    try:
        rest, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError(f"{argv}: pynetstat did not end") from None
    return p.returncode, out + (rest or b""), (err or b"").decode("utf-8", "replace")


def assert_one_write_error(status: int, err: str, why: str) -> None:
    assert status == 1, (status, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert_quiet_stderr(err)
    assert err.splitlines()[-1] == f"pynetstat: cannot write to standard output: {why}", err


@pytest.mark.parametrize("argv", ONE_SHOT + INTERVAL, ids=" ".join)
def test_stdout_on_dev_full(argv):
    with open("/dev/full", "wb") as full:
        status, _, err = run(argv, stdout=full)
    assert_one_write_error(status, err, "No space left on device")


@pytest.mark.parametrize("argv", ONE_SHOT + INTERVAL, ids=" ".join)
def test_stdout_closed(argv):
    status, _, err = run(argv, stdout=None, close=1)
    assert_one_write_error(status, err, "Bad file descriptor")


def shows(argv, out: str, charset: str = "utf-8") -> None:
    """What an output of ``argv`` must look like: whole, and of its kind."""
    if argv == ["--help"]:
        assert out.startswith("Displays protocol statistics")
    elif "--json" in argv:
        if argv[-1] == "0.05":
            parse_json_lines(out)
        elif argv[0].startswith("-an"):
            parse_json(out)
        else:
            assert isinstance(json.loads(out), dict)
    elif argv[0].startswith("-an") and argv[-1] != "0.05":
        parse_table(out, pids="o" in argv[0], owner_lines="b" in argv[0])
    else:
        assert out.strip(), argv


@pytest.mark.parametrize("argv", ONE_SHOT + INTERVAL, ids=" ".join)
def test_stderr_closed(argv):
    """Nothing on stderr can be said: the output is still whole; the status is 1 when a note on
    what could not be seen had to be dropped (the same run with a stderr says it), else 0."""
    until = (lambda out: out.count(b"\n") >= 3) if argv[-1] == "0.05" else None
    status, out, err = run(argv, stdout=subprocess.PIPE, until=until)
    noted = bool(err)
    status, out, _ = run(argv, stdout=subprocess.PIPE, stderr=None, close=2, until=until)
    if until is None:
        assert status == (1 if noted else 0), status
        shows(argv, out.decode("utf-8"))
    else:
        assert status in ((1, 130) if noted else (130,)), status
        assert out.count(b"\n") >= 1


@pytest.mark.parametrize("encoding", ENCODINGS, ids=str)
@pytest.mark.parametrize("argv", ONE_SHOT + INTERVAL, ids=" ".join)
def test_output_encoding_cannot_carry_every_character(named_process, argv, encoding):
    charset = CHARSET[encoding]
    exe = "".join(ch if ch.encode(charset, "ignore") else f"\\u{ord(ch):04x}" for ch in EXE)
    shown = f"[{exe}]".encode(charset)
    interval = argv[-1] == "0.05"
    until = None
    if interval:
        def until(out: bytes) -> bool:
            # JSON escapes the name otherwise: waiting for the [exe] line would wait out the run
            return out.count(b"\n") >= 3 and ("b" not in argv[0] or "--json" in argv
                                               or shown in out)
    status, out, err = run(argv, stdout=subprocess.PIPE, env=ENCODINGS[encoding], until=until)
    assert status == (130 if interval else 0), (status, err)
    assert "Traceback" not in err, err
    assert_quiet_stderr(err)
    text = out.decode(charset)
    if not interval:
        shows(argv, text)
    if "b" in argv[0] and "--json" not in argv:
        assert shown.decode(charset) in text, text[-3000:]
