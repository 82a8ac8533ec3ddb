"""Interval mode (issue 5) under attack: churn, faults that appear between two passes, PIDs
reused between passes, and hostile files that would block a pass.

In-process runs get a fake clock and a sleep that changes the machine between passes (and ends
the run with Ctrl+C after the last one), so each pass sees a different /proc or kernel; the
subprocess runs face the churn harness and end with SIGINT.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pynetstat.cli import main
from pynetstat.env import Environment

from .check import assert_printable, assert_quiet_stderr, command, parse_json_lines, subprocess_env
from .churn import Churn
from .kernel import BREAKS, FIXTURES, FakeKernel, FakeProc, Sock
from .test_faults import deadline, world_tmp

SOCKS = [Sock("tcp", 4, 10, "127.0.0.1", 8080, inode=7001, cookie=11),
         Sock("tcp", 4, 1, "127.0.0.1", 8080, "127.0.0.1", 50000, inode=7002, cookie=12),
         Sock("udp", 6, 7, "::1", 5353, inode=7003, cookie=13)]
PID = 4300


class Between:
    """The environment's clock and sleep: ``change(n)`` runs after pass n; after ``passes``
    passes, Ctrl+C."""

    def __init__(self, passes: int, change=None):
        self.passes, self.change, self.done, self.now = passes, change, 0, 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.done += 1
        self.now += seconds
        if self.change is not None:
            self.change(self.done)
        if self.done >= self.passes:
            raise KeyboardInterrupt


def run_passes(argv, proc, kernel, between: Between, may_fail: bool = False):
    """Run until Ctrl+C after the last pass. ``may_fail``: nothing at all can be shown any more
    (every source of the view is gone), so the run may end with status 1 and one line."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(out, err, environ={"PYNETSTAT_RESOLVE_BUDGET": "1"}, proc_root=str(proc.root),
                      netlink_factory=lambda: kernel, monotonic=between.monotonic,
                      sleep=between.sleep, wall_clock=between.monotonic)
    with deadline():
        status = main(argv, env)
    assert_quiet_stderr(err.getvalue())
    if may_fail and status == 1:
        assert len(err.getvalue().splitlines()) == 1
        return None, err.getvalue()
    assert status == 130, err.getvalue()
    if "--json" in argv:
        return parse_json_lines(out.getvalue()), err.getvalue()
    assert_printable(out.getvalue())
    return out.getvalue(), err.getvalue()


@pytest.fixture
def tree():
    import shutil

    d = world_tmp()
    proc = FakeProc(d)
    proc.sockets(SOCKS)
    proc.process(PID, b"server", inodes=[s.inode for s in SOCKS], start=100)
    yield proc
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("how", BREAKS)
@pytest.mark.parametrize("rel", ["stat", "status", "comm", "cgroup", "fd", "fd/3", "exe"])
@pytest.mark.parametrize("argv", [["-anob", "--json", "1"], ["-anobv", "1"], ["-ano", "--changes", "1"]],
                         ids=" ".join)
def test_process_file_breaks_between_passes(tree, argv, rel, how):
    def change(n):
        if n == 1:
            tree.break_path(f"{PID}/{rel}", how)

    got, _ = run_passes(argv, tree, FakeKernel(SOCKS), Between(3, change))
    if "--json" in argv:
        displays = [d for d in got if d.get("type") == "display"]
        assert len(displays) == 3 and all(len(d["connections"]) == len(SOCKS) for d in displays)


@pytest.mark.parametrize("argv", [["-anob", "--json", "1"], ["-anobv", "--json", "1"]], ids=" ".join)
def test_pid_reused_between_passes(tree, argv):
    """After pass 1 the owner exits and its PID goes to a new process (a later start time) that
    holds the same sockets (say, it inherited them): pass 2 must show the new process."""
    def change(n):
        if n == 1:
            tree.process(PID, b"newcomer", exe=b"/usr/bin/newcomer", start=900,
                         inodes=[s.inode for s in SOCKS])

    docs, _ = run_passes(argv, tree, FakeKernel(SOCKS), Between(2, change))
    names = [{o["name"] for c in d["connections"] for o in c["owners"]} for d in docs]
    assert names == [{"server"}, {"newcomer"}], names
    exes = {o["exe"] for c in docs[1]["connections"] for o in c["owners"]}
    assert exes == {"/usr/bin/newcomer"}


def test_owner_gone_between_passes(tree):
    """The owner exits after pass 1 and its sockets linger: pass 2 attributes them to nobody,
    and says so."""
    import shutil

    def change(n):
        if n == 1:
            shutil.rmtree(tree.path(str(PID)))

    docs, err = run_passes(["-ano", "--json", "1"], tree, FakeKernel(SOCKS), Between(2, change))
    assert [c["pid"] for c in docs[1]["connections"]] == [None] * len(SOCKS)
    assert docs[1]["owner_scan"]["unattributed_sockets"] == len(SOCKS)
    assert err.count("could not be attributed") == 1


@pytest.mark.parametrize("pass_no", [1, 2])
def test_netlink_garbage_on_one_pass(tree, pass_no):
    state = {"pass": 0}

    def fault(key, chunks, seq):
        if key == "sock_diag-tcp":
            state["pass"] += 1
        if state["pass"] == pass_no and key == "sock_diag-tcp":
            return [chunks[0][:30] + b"\xff" * 50]
        return chunks

    docs, err = run_passes(["-ano", "--json", "1"], tree, FakeKernel(SOCKS, fault=fault, per_buffer=1),
                           Between(3))
    assert len(docs) == 3
    assert err.count("malformed netlink") == 1, err


@pytest.mark.parametrize("how", BREAKS + ("truncated",))
@pytest.mark.parametrize("argv", [["-s", "1"], ["-s", "--json", "1"], ["-s", "--changes", "1"],
                                  ["-r", "1"], ["-e", "--changes", "1"]], ids=" ".join)
def test_counter_file_breaks_between_passes(tree, argv, how):
    rel = {"-s": "net/snmp", "-r": "net/route", "-e": "net/dev"}[argv[0]]

    def change(n):
        if n == 1:
            if how == "truncated":
                tree.truncate(rel, tree.path(rel).read_bytes().rstrip(b"\n").rindex(b"\n") + 13)
            else:
                tree.break_path(rel, how)

    # -e has one source left here (netlink is off): when it breaks, nothing can be shown.
    out, err = run_passes(argv, tree, FakeKernel(rtnl_dir=None), Between(3, change),
                          may_fail=argv[0] == "-e")
    if how not in ("missing", "dangling", "empty") and argv[0] == "-s":
        assert err.count(str(tree.path(rel))) == 1, err  # said once, not on every pass


@pytest.mark.parametrize("argv", [["-anob", "--json", "0.05"], ["-ano", "--changes", "0.05"],
                                  ["-anob", "0.05"], ["-ano", "--changes", "--json", "0.05"]],
                         ids=" ".join)
def test_interval_under_churn(argv, tmp_path):
    """To a file, so every display is written at once and Ctrl+C lands anywhere in one: with
    --json the last line must still be whole."""
    # The churners outlive the wait (they are killed on exit): on a loaded 2-core host three
    # displays of -anob under churn took more than 15 s.
    with Churn(processes=4, seconds=90) as churn, open(tmp_path / "out", "wb") as out:
        p = subprocess.Popen(command(argv), stdout=out, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=subprocess_env())
        end = time.monotonic() + 60
        while time.monotonic() < end and (tmp_path / "out").read_bytes().count(b"\n") < 3:
            time.sleep(0.05)  # three displays (or change lines) at least, however loaded the host
        time.sleep(random.uniform(0, 0.3))  # then anywhere in a pass
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        assert churn.alive()
    assert p.returncode == 130, err.decode()
    assert_quiet_stderr(err.decode())
    text = (tmp_path / "out").read_text("utf-8")
    if "--json" in argv:
        docs = parse_json_lines(text)
        assert len(docs) >= 3
        if "--changes" in argv:
            assert any(d.get("change") or d.get("type") == "change" for d in docs[1:]), docs[1:3]
    else:
        assert_printable(text)
        assert churn.address in text


class SlowKernel:
    """pynetstat run on a recorded kernel (conn-normal) whose UDP/IPv6 dump is a FIFO: each pass
    stops there, after its TCP and UDP/IPv4 rows, until the test feeds the recording."""

    def __init__(self, tmp_path, argv):
        recorded = FIXTURES / "linux" / "conn-normal" / "netlink"
        self.dir = tmp_path / "netlink"
        shutil.copytree(recorded, self.dir)
        self.fifo = self.dir / "sock_diag-udp6.nl"
        self.data = self.fifo.read_bytes()
        self.fifo.unlink()
        os.mkfifo(self.fifo)
        self.out = tmp_path / "out"
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                command(argv), stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                env=subprocess_env({"PYNETSTAT_NETLINK_REPLAY": str(self.dir)}))

    def reached(self) -> int:
        """Wait until the run opens the FIFO (a pass is at its UDP/IPv6 dump); its write end."""
        end = time.monotonic() + 60
        while True:
            try:
                return os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader yet
                assert self.proc.poll() is None and time.monotonic() < end
                time.sleep(0.01)

    def feed(self, fd: int) -> None:
        os.write(fd, self.data)
        os.close(fd)

    def first_pass(self) -> None:
        """Feed pass 1 and wait for its line (the run has closed the FIFO by then)."""
        self.feed(self.reached())
        end = time.monotonic() + 60
        while b"\n" not in self.out.read_bytes():
            assert self.proc.poll() is None and time.monotonic() < end
            time.sleep(0.01)

    def lines(self) -> list[str]:
        return self.out.read_text("utf-8").split("\n")


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_in_a_slow_pass_to_a_file_waits_for_the_whole_line(tmp_path, sig, status):
    """A pass streams its rows as the kernel's dumps come: under load a pass can take seconds
    (the churn test above: 11-21 s for -anob on a loaded 2-core host). A signal that comes in the
    middle, with stdout a file that takes every byte, waits for the line to end: before, the
    line was cut half a second after the signal, and ``{"schema_version": ..., "connections": [``
    was the last line of the file."""
    run = SlowKernel(tmp_path, ["-an", "--json", "1"])
    try:
        run.first_pass()
        fd = run.reached()  # pass 2, stopped at its last dump
        run.proc.send_signal(sig)
        time.sleep(1.5)  # three times the grace a stalled reader gets
        assert run.proc.poll() is None
        run.feed(fd)
        _, err = run.proc.communicate(timeout=30)
    finally:
        run.proc.kill()
    assert run.proc.returncode == status, err.decode()
    assert_quiet_stderr(err.decode())
    docs = parse_json_lines(run.out.read_text("utf-8"))
    assert [d["pass"] for d in docs] == [1, 2]
    assert docs[0]["connections"] == docs[1]["connections"]


def test_a_second_signal_cuts_the_line_at_once(tmp_path):
    """Ctrl+C twice: the user will not wait for the pass; a cut line is the last one."""
    run = SlowKernel(tmp_path, ["-an", "--json", "1"])
    try:
        run.first_pass()
        fd = run.reached()
        run.proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        sent = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        _, err = run.proc.communicate(timeout=30)
        took = time.monotonic() - sent
        os.close(fd)
    finally:
        run.proc.kill()
    assert run.proc.returncode == 130, err.decode()
    assert took < 5
    lines = run.lines()
    assert parse_json_lines(lines[0])[0]["pass"] == 1
    assert all(not line for line in lines[2:])  # nothing after the cut line


@pytest.mark.parametrize("argv", [["-ano", "1"], ["-ano", "--json", "1"], ["-ano", "--changes", "1"]],
                         ids=" ".join)
def test_flapping_note_is_said_once(tree, argv):
    """Issue 21 item 16: under churn a socket no visible process holds comes and goes between
    passes; the note about it was said again each time it came back (1,383 stderr lines in 10 s).
    A note is said when it changes, not on every pass where it returns."""
    orphan = Sock("tcp", 4, 1, "127.0.0.1", 8081, "127.0.0.1", 50001, inode=9901, cookie=21)
    kernel = FakeKernel(SOCKS + [orphan])

    def change(n):
        kernel.socks = SOCKS + [orphan] if n % 2 == 0 else list(SOCKS)

    _, err = run_passes(argv, tree, kernel, Between(12, change))
    lines = [line for line in err.splitlines() if "could not be attributed" in line]
    assert len(lines) == 1, err


@pytest.mark.parametrize("argv", [["-ano", "--json", "1"], ["-ano", "--json", "--changes", "1"],
                                  ["-e", "--json", "1"], ["-e", "--json", "--changes", "1"]],
                         ids=" ".join)
def test_json_lines_name_their_host(tree, argv):
    """Issue 21 item 17: lines shipped from many machines into one pipeline must tell them apart:
    every JSON Lines record carries ``host``."""
    from pynetstat.textsafe import json_text

    moved = Sock("tcp", 4, 1, "127.0.0.1", 8081, "127.0.0.1", 50001, inode=9901, cookie=21)
    kernel = FakeKernel(SOCKS)

    def change(n):
        kernel.socks = SOCKS + [moved] if n % 2 else list(SOCKS)

    docs, _ = run_passes(argv, tree, kernel, Between(4, change))
    assert len(docs) >= (1 if "--changes" in argv else 4)
    if "-ano" in argv and "--changes" in argv:
        assert any(d["type"] == "connection" for d in docs)
    assert {d.get("host") for d in docs} == {json_text(os.uname().nodename)}, docs


HOSTILE_HOST = b"evil\x1b]0;owned\x07\xff\xe2\x80\xae"

UTS_CHILD = """
import socket, subprocess, sys
socket.sethostname(bytes.fromhex(sys.argv[1]))
p = subprocess.Popen([sys.executable, "-m", "pynetstat", "-an", "-p", "udp", "--json", "0.2"],
                     stdout=subprocess.PIPE)
sys.stdout.buffer.write(p.stdout.readline())
p.kill()
"""


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="a UTS namespace needs root")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_json_lines_escape_a_hostile_host_name():
    """The host name is any bytes root chose (sethostname): escaped as every outside string is."""
    from pynetstat.textsafe import json_text

    p = subprocess.run(["unshare", "--uts", sys.executable, "-c", UTS_CHILD, HOSTILE_HOST.hex()],
                       capture_output=True, timeout=60, env=subprocess_env())
    assert p.returncode == 0, p.stderr
    line = p.stdout.decode("ascii")
    assert line.endswith("\n")
    doc = parse_json_lines(line)[0]
    assert doc["host"] == json_text(HOSTILE_HOST)  # parse_json_lines: ASCII, no lone surrogate
