"""Running pynetstat as the attack tests do (in-process, and as a subprocess of ``python -m
pynetstat`` on this checkout's src), and judging what it printed: the table judges and the
in-process runner are tests/helpers.py's; the JSON judges are here.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import (  # noqa: F401  (the attack tests import these from here)
    HEADINGS,
    STATES,
    Result,
    assert_printable,
    columns,
    parse_table,
)
from helpers import run_inprocess as _run_inprocess

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
# attack tests run with a 1 s resolver budget and nothing else from this process's environment
run_inprocess = functools.partial(_run_inprocess, resolve_budget="1")


def command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "pynetstat", *argv]


def subprocess_env(extra: dict | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(SRC), PYNETSTAT_RESOLVE_BUDGET="1")
    env.pop("PYNETSTAT_PROC_ROOT", None)
    env.pop("PYNETSTAT_NETLINK_REPLAY", None)
    env.update(extra or {})
    return env


def run_subprocess(argv: list[str], *, timeout: float = 60, env: dict | None = None,
                   prefix: list[str] = ()) -> Result:
    """pynetstat as users run it; stdout and stderr must be valid UTF-8."""
    p = subprocess.run([*prefix, *command(argv)], capture_output=True, timeout=timeout,
                       env=subprocess_env(env), stdin=subprocess.DEVNULL)
    return Result(p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8"))


def parse_json(out: str) -> dict:
    """The connection document: valid JSON, ASCII, one connection record per line."""
    assert out.isascii(), "the JSON document is not ASCII"
    doc = json.loads(out)
    assert_unicode(doc)
    lines = out.split("\n")
    assert lines[0].endswith('"connections": ['), lines[0][:200]
    records = lines[1:-2]
    assert len(records) == len(doc["connections"]), "a record spans more or less than one line"
    for line, rec in zip(records, doc["connections"]):
        assert json.loads(line.rstrip(",")) == rec
    return doc


def parse_json_lines(out: str) -> list[dict]:
    """JSON Lines: every line one complete JSON value."""
    assert out.isascii()
    docs = [json.loads(line) for line in out.split("\n") if line]
    assert_unicode(docs)
    return docs


def assert_unicode(value) -> None:
    """Every string in a JSON value is real Unicode: ``\\udc80`` escapes parse in Python, but a
    lone surrogate is no character, and strict readers (jq, serde) reject the document."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_unicode(k)
            assert_unicode(v)
    elif isinstance(value, list):
        for v in value:
            assert_unicode(v)


def close_hard(sockets) -> None:
    """Close with SO_LINGER 0 (an RST, no TIME_WAIT): the suite's hundreds of loopback
    connections must not linger into the listings of the tests that run after it."""
    import socket
    import struct
    from contextlib import suppress

    for s in sockets:
        with suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def assert_quiet_stderr(err: str) -> None:
    """stderr carries only pynetstat's own one-line notes, never a traceback."""
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    for line in err.splitlines():
        assert line.startswith("pynetstat: "), f"unexpected stderr line: {line!r}"
