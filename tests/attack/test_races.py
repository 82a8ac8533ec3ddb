"""Races: pynetstat lists while processes and sockets appear and vanish around it.

The churn harness (churn.py) opens and closes TCP and UDP sockets every few milliseconds,
forks children that hold sockets and exit, and renames itself. While it runs, pynetstat lists
``-ano``, ``-anob``, ``-anob --json`` (and ``-anobv --json``) again and again, as users run it:
every run exits 0, prints no traceback, every text row is well formed and every JSON document
valid. The deterministic races (a PID reused between two reads, a socket's owner exiting
between the owner scan and the dump) are replayed in a fake /proc tree.
"""

from __future__ import annotations

import time

import pytest

from pynetstat.linux.process import read_process
from pynetstat.linux.procfs import ProcFS

from .check import assert_quiet_stderr, parse_json, parse_table, run_inprocess, run_subprocess
from .churn import Churn
from .kernel import FakeKernel, FakeProc, Sock

MODES = [["-ano"], ["-anob"], ["-anob", "--json"], ["-anobv", "--json"], ["-anobv"]]


def judge(argv: list[str], result, churn_address: str) -> int:
    """Check one run; return how many churn sockets it showed."""
    assert result.status == 0, result
    assert_quiet_stderr(result.err)
    if "--json" in argv:
        doc = parse_json(result.out)
        assert doc["owner_scan"] is not None
        return sum(c["local_address"] == churn_address for c in doc["connections"])
    rows = parse_table(result.out, pids=True, owner_lines="-anob" in argv[0])
    return sum(r[1].startswith(churn_address + ":") for r in rows)


def hammer(argv: list[str], churn: Churn, seconds: float, inprocess: bool = False) -> int:
    runs = seen = 0
    end = time.monotonic() + seconds
    while (time.monotonic() < end or runs < 2) and churn.alive():
        result = run_inprocess(argv) if inprocess else run_subprocess(argv, timeout=30)
        seen += judge(argv, result, churn.address)
        runs += 1
    assert runs >= 2, "the churn ended before pynetstat could run twice"
    assert seen > 0, "pynetstat never saw a churn socket: the churn is not working"
    return runs


@pytest.fixture(scope="module")
def churn():
    with Churn(processes=4, seconds=40) as c:
        yield c


@pytest.mark.parametrize("argv", MODES, ids=" ".join)
def test_listing_under_churn_subprocess(churn, argv):
    hammer(argv, churn, seconds=2.0)


@pytest.mark.parametrize("argv", [["-anob"], ["-anobv", "--json"]], ids=" ".join)
def test_listing_under_churn_inprocess(churn, argv):
    """In-process, so the runs come back to back and the races are tighter."""
    hammer(argv, churn, seconds=2.0, inprocess=True)


@pytest.mark.slow
@pytest.mark.parametrize("argv", MODES, ids=" ".join)
def test_soak_under_heavy_churn(argv):
    with Churn(processes=12, seconds=70) as churn:
        hammer(argv, churn, seconds=60.0)


def test_pid_reused_between_reads(tmp_path):
    """A process cache keyed by PID alone would show the old process for the new one."""
    proc = FakeProc(tmp_path)
    proc.process(4242, b"old", exe=b"/usr/bin/old", start=100)
    cache: dict = {}
    fs = ProcFS(str(tmp_path))
    assert read_process(fs, 4242, cache=cache).exe == "/usr/bin/old"
    proc.process(4242, b"new", exe=b"/usr/bin/new", start=900)  # exited, PID handed on
    info = read_process(fs, 4242, cache=cache)
    assert (info.name, info.exe, info.start_time) == ("new", "/usr/bin/new", 900)


def test_owner_exits_between_scan_and_dump(tmp_path):
    """The owner scan ran, then the socket's process exited and its socket lingers in the dump
    (TIME_WAIT has inode 0; an orphaned socket keeps its inode): no row is dropped, the
    unattributed one is counted and said."""
    proc = FakeProc(tmp_path)
    proc.process(300, b"client", inodes=[5001])
    socks = [Sock(state=1, lport=40000, remote="127.0.0.1", rport=80, inode=5001, cookie=1),
             Sock(state=1, lport=40001, remote="127.0.0.1", rport=80, inode=5002, cookie=2),
             Sock(state=6, lport=40002, remote="127.0.0.1", rport=80, inode=0, cookie=3)]
    result = run_inprocess(["-ano"], proc_root=tmp_path, netlink=FakeKernel(socks))
    assert result.status == 0, result
    rows = parse_table(result.out, pids=True)
    assert [r[4] for r in rows] == ["300", "-", "-"]
    assert result.err.count("1 socket could not be attributed") == 1, result.err
