"""Privilege: pynetstat as root, as an unprivileged user, as root without CAP_SYS_PTRACE, and
with /proc mounted hidepid=2 (in a private mount namespace this test makes).

The scene: this (root) test process holds a listener; a child running as uid 65534 holds
another. Each listing runs in a forked child of the test that has dropped what the case drops
(sandbox.py) and calls the CLI in-process. Every listing must work (-ano, -anob, --json, -s, -e,
-r), show every socket, attribute what it may see, and say how many sockets it could not
attribute and why, once on stderr and in the JSON.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from .check import assert_quiet_stderr, parse_json, parse_table, run_inprocess
from .sandbox import (
    CAP_SYS_PTRACE,
    NOBODY,
    become,
    can_sandbox,
    drop_capability,
    has_capability,
    in_child,
    mount,
    private_mounts,
)

pytestmark = [pytest.mark.root, pytest.mark.skipif(can_sandbox() is not None, reason=str(can_sandbox()))]

# The child drops to 65534 itself (the interpreter under /root cannot be exec'd by 65534); a
# process that changed uid is not dumpable, and then even its own user may not read its fds,
# so it makes itself dumpable again, as it would be had it been exec'd as 65534.
NOBODY_LISTENER = textwrap.dedent("""
    import ctypes, os, socket, sys, time
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    print(s.getsockname()[1], flush=True)
    time.sleep(120)
""")


@pytest.fixture(scope="module")
def scene():
    mine = socket.socket()
    mine.bind(("127.0.0.1", 0))
    mine.listen(1)
    child = subprocess.Popen([sys.executable, "-c", NOBODY_LISTENER], stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
    try:
        theirs = int(child.stdout.readline())
        yield {"root": (mine.getsockname()[1], os.getpid()), "nobody": (theirs, child.pid),
               "fd": mine.fileno()}
    finally:
        child.kill()
        child.wait()
        mine.close()


def listings() -> dict:
    runs = {}
    for argv in (["-ano", "-p", "tcp"], ["-anob", "-p", "tcp"], ["-anobv", "-p", "tcp", "--json"],
                 ["-s"], ["-e"], ["-r"], ["-es", "--json"]):
        r = run_inprocess(argv)
        runs[" ".join(argv)] = (r.status, r.out, r.err)
    return runs


def interval_listing() -> list[dict]:
    """Two passes of ``-ano --json`` in interval mode (its owner cache reads /proc its own way)."""
    import io
    import json

    from pynetstat.cli import main
    from pynetstat.env import Environment

    passes = []

    def sleep(seconds):
        passes.append(1)
        if len(passes) == 2:
            raise KeyboardInterrupt

    out, err = io.StringIO(), io.StringIO()
    status = main(["-ano", "-p", "tcp", "--json", "1"], Environment(out, err, sleep=sleep))
    assert status == 130, err.getvalue()
    assert_quiet_stderr(err.getvalue())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def judge_interval(docs: list[dict], scene: dict, visible: set[str], why: str | None) -> None:
    assert len(docs) == 2
    for doc in docs:
        by_port = {c["local_port"]: c for c in doc["connections"] if c["state"] == "LISTENING"}
        for who in ("root", "nobody"):
            port, pid = scene[who]
            assert by_port[port]["pid"] == (pid if who in visible else None), (who, doc["owner_scan"])
        if why is not None:
            reason = doc["owner_scan"]["unattributed_reason"] or ""
            assert why.split()[0] in reason, doc["owner_scan"]


def pid_of(rows, port: int) -> str:
    cells = [r for r in rows if r[1] == f"127.0.0.1:{port}" and r[3] == "LISTENING"]
    assert len(cells) == 1, rows
    return cells[0][4]


def judge(runs: dict, scene: dict, visible: set[str], why: str | None) -> None:
    """``visible``: which of the scene's listeners may be attributed; ``why``: words the note
    on the others must hold (None: every scene socket is attributed)."""
    for key, (status, out, err) in runs.items():
        assert status == 0, (key, err)
        assert_quiet_stderr(err)
        assert out.strip(), f"{key} printed nothing"
    status, out, err = runs["-ano -p tcp"]
    rows = parse_table(out, pids=True)
    for who in ("root", "nobody"):
        port, pid = scene[who]
        assert pid_of(rows, port) == (str(pid) if who in visible else "-"), (who, out)
    notes = [line for line in err.splitlines() if "could not be attributed" in line]
    if why is not None:
        assert len(notes) == 1, err
        assert why in notes[0], notes[0]
    status, out, err_b = runs["-anob -p tcp"]
    parse_table(out, pids=True, owner_lines=True)
    doc = parse_json(runs["-anobv -p tcp --json"][1])
    scan = doc["owner_scan"]
    unattributed = [c for c in doc["connections"] if c["inode"] and not c["owners"]]
    assert scan["unattributed_sockets"] == len(unattributed)
    if why is not None:
        assert scan["unattributed_reason"] and why.split()[0] in scan["unattributed_reason"], scan


def isolated(scene, *steps):
    """The child's setup: first let go of the child's copy of the scene's root listener (else
    the child itself would hold it), then each step."""
    def setup():
        os.close(scene["fd"])
        for step in steps:
            step()
    return setup


def test_as_root(scene):
    runs = in_child(listings, setup=isolated(scene))
    judge(runs, scene, {"root", "nobody"}, None)


def test_as_unprivileged_user(scene):
    runs = in_child(listings, setup=isolated(scene, lambda: become(NOBODY)))
    judge(runs, scene, {"nobody"}, "permission denied")
    assert "run as root" in runs["-ano -p tcp"][2]


def test_as_root_without_ptrace(scene):
    def setup():
        drop_capability(CAP_SYS_PTRACE)
        assert not has_capability(CAP_SYS_PTRACE)

    runs = in_child(listings, setup=isolated(scene, setup))
    # Without CAP_SYS_PTRACE, root may read the fds of no process with more capabilities than
    # it has left (the test process) nor of another uid (the 65534 child): only its own.
    judge(runs, scene, set(), "permission denied")
    assert "CAP_SYS_PTRACE" in runs["-ano -p tcp"][2]


def test_hidepid_as_unprivileged_user(scene):
    """/proc mounted hidepid=2 in a private mount namespace: other users' processes are not
    even listed. The note must say so, not blame sockets "no process holds"."""
    def setup():
        private_mounts()
        try:
            mount("proc", "/proc", "proc", 0, "hidepid=2")
        except OSError as e:
            pytest.skip(f"cannot mount proc with hidepid here: {e}")
        become(NOBODY)

    runs = in_child(listings, setup=isolated(scene, setup))
    judge(runs, scene, {"nobody"}, "hidepid")


@pytest.mark.parametrize("option", ["hidepid=1", "hidepid=noaccess"])
def test_hidepid_noaccess_as_unprivileged_user(scene, option):
    """hidepid=1 (noaccess): other users' processes are listed, but their directories may not
    be entered. That is /proc's mount option at work, and the note must say so, as for
    hidepid=2, rather than plain "permission denied" (issue 21 item 13)."""
    def setup():
        private_mounts()
        try:
            mount("proc", "/proc", "proc", 0, option)
        except OSError as e:
            pytest.skip(f"cannot mount proc with {option} here: {e}")
        become(NOBODY)

    runs = in_child(listings, setup=isolated(scene, setup))
    judge(runs, scene, {"nobody"}, "hidepid")


def test_hidepid_as_root(scene):
    """hidepid hides nothing from root: every listing is whole."""
    def setup():
        private_mounts()
        mount("proc", "/proc", "proc", 0, "hidepid=2")

    runs = in_child(listings, setup=isolated(scene, setup))
    judge(runs, scene, {"root", "nobody"}, None)


@pytest.mark.parametrize("case", ["nobody", "no-ptrace", "hidepid", "hidepid-noaccess"])
def test_interval_mode(scene, case):
    """The same cases through interval mode's owner cache (linux/owner_cache.py)."""
    steps = {"nobody": [lambda: become(NOBODY)],
             "no-ptrace": [lambda: drop_capability(CAP_SYS_PTRACE)],
             "hidepid": [private_mounts, lambda: mount("proc", "/proc", "proc", 0, "hidepid=2"),
                         lambda: become(NOBODY)],
             "hidepid-noaccess": [private_mounts,
                                  lambda: mount("proc", "/proc", "proc", 0, "hidepid=noaccess"),
                                  lambda: become(NOBODY)]}[case]
    visible = {"nobody": {"nobody"}, "no-ptrace": set(), "hidepid": {"nobody"},
               "hidepid-noaccess": {"nobody"}}[case]
    why = {"nobody": "permission denied", "no-ptrace": "permission denied", "hidepid": "hidepid",
           "hidepid-noaccess": "hidepid"}[case]
    docs = in_child(interval_listing, setup=isolated(scene, *steps))
    judge_interval(docs, scene, visible, why)
