"""Interval mode never shows an owner that no longer holds the socket (issue 21 item 6).

Later passes reuse the owners the first walk found (linux/owner_cache.py). What the cache
believes is checked on every pass: each owner's ``/proc/PID/fd/N`` must still name the socket.

* On a forged /proc tree (``kernel.FakeProc``): a co-owner closes its copy; the sole owner hands
  its socket to another process and closes it; an fd is closed and its number reused for a new
  socket.
* Live: two real processes share one listener; between two passes of ``-ano --json 1`` one of
  them closes its copy, as ``ss -p`` would then show the survivor alone.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from pynetstat.cli import main
from pynetstat.env import Environment
from pynetstat.linux.owner_cache import OwnerCache

from .check import assert_quiet_stderr
from .kernel import FakeProc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_interval_live import isolated  # noqa: E402  (private-namespace runner)


@pytest.fixture
def tree():
    d = tempfile.mkdtemp(prefix="pynetstat-recheck-")
    yield FakeProc(Path(d), counters=None)
    shutil.rmtree(d, ignore_errors=True)


def pids(cache: OwnerCache, inodes):
    found = cache.lookup([tuple(inodes)])
    return {inode: found.pids(inode) for inode in inodes}


def test_co_owner_that_closed_its_copy_is_not_shown(tree):
    tree.process(100, inodes=[7001], start=10)
    tree.process(200, inodes=[7001], start=20)
    cache = OwnerCache(str(tree.root))
    assert pids(cache, [7001]) == {7001: (100, 200)}
    (tree.path("200/fd/3")).unlink()  # PID 200 closes its copy; PID 100 keeps the socket
    assert pids(cache, [7001]) == {7001: (100,)}
    assert pids(cache, [7001]) == {7001: (100,)}


def test_first_owner_that_closed_its_copy_is_not_shown(tree):
    tree.process(100, inodes=[7001], start=10)
    tree.process(200, inodes=[7001], start=20)
    cache = OwnerCache(str(tree.root))
    assert pids(cache, [7001]) == {7001: (100, 200)}
    (tree.path("100/fd/3")).unlink()
    assert pids(cache, [7001]) == {7001: (200,)}


def test_socket_handed_over_is_looked_for_again(tree):
    """The sole owner passes the socket on (SCM_RIGHTS) and closes it: a walk finds the holder."""
    tree.process(100, inodes=[7001], start=10)
    tree.process(300, inodes=[], start=30)
    cache = OwnerCache(str(tree.root))
    assert pids(cache, [7001]) == {7001: (100,)}
    os.symlink("socket:[7001]", tree.path("300/fd/4"))
    (tree.path("100/fd/3")).unlink()
    assert pids(cache, [7001]) == {7001: (300,)}


def test_fd_number_reused_for_another_socket(tree):
    tree.process(100, inodes=[7001, 7002], start=10)
    tree.process(200, inodes=[7001], start=20)
    cache = OwnerCache(str(tree.root))
    assert pids(cache, [7001, 7002]) == {7001: (100, 200), 7002: (100,)}
    (tree.path("200/fd/3")).unlink()
    os.symlink("socket:[7005]", tree.path("200/fd/3"))  # same fd number, a new socket
    assert pids(cache, [7001, 7002, 7005]) == {7001: (100,), 7002: (100,), 7005: (200,)}


def test_owner_gone_unreadable_is_not_shown(tree):
    tree.process(100, inodes=[7001], start=10)
    tree.process(200, inodes=[7001], start=20)
    cache = OwnerCache(str(tree.root))
    assert pids(cache, [7001]) == {7001: (100, 200)}
    shutil.rmtree(tree.path("200/fd"))  # its fd table can no longer be opened
    assert pids(cache, [7001]) == {7001: (100,)}


HOLDER = textwrap.dedent("""
    import os, socket, sys
    fd = int(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "close":
            os.close(fd)
            print("closed", flush=True)
""")


def live_scenario() -> dict:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    holders = [subprocess.Popen([sys.executable, "-c", HOLDER, str(fd)], pass_fds=[fd],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        for p in holders:
            assert p.stdout.readline().strip() == "ready"
        listener.close()  # the two holders alone keep the socket
        passes = []

        def sleep(seconds):
            passes.append(1)
            if len(passes) == 1:
                holders[1].stdin.write("close\n")
                holders[1].stdin.flush()
                assert holders[1].stdout.readline().strip() == "closed"
            if len(passes) == 3:
                raise KeyboardInterrupt

        out, err = io.StringIO(), io.StringIO()
        # A long interval (the sleep is the test's): a pass that overran a short one would start
        # the next at once, before the holder closed its copy (seen on a loaded host).
        status = main(["-ano", "-p", "tcp", "--json", "60"], Environment(out, err, sleep=sleep))
        assert status == 130, err.getvalue()
        assert_quiet_stderr(err.getvalue())
        shown = []
        for line in out.getvalue().splitlines():
            rows = [c for c in json.loads(line)["connections"]
                    if c["local_port"] == port and c["state"] == "LISTENING"]
            assert len(rows) == 1, rows
            shown.append([o["pid"] for o in rows[0]["owners"]])
        return {"shown": shown, "pids": [p.pid for p in holders]}
    finally:
        for p in holders:
            p.kill()
            p.wait()


def test_live_co_owner_closes_between_passes():
    """In a private network namespace (nothing else opens sockets there between passes)."""
    result = isolated(live_scenario)
    first, second = result["pids"]
    assert result["shown"][0] == sorted([first, second])
    assert result["shown"][1:] == [[first]] * (len(result["shown"]) - 1), result
