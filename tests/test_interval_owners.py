"""Later passes reuse what the first learned of socket owners, and memory stays flat.

* On a /proc tree written by the test: the first lookup walks every fd table, a second with the
  same sockets reads none, a new socket is looked for in the likeliest process first and the walk
  stops there, and a PID handed to a new process (another start time) never keeps the old
  process's sockets.
* Live, in-process, on a fake clock: -ano over sockets held by helper processes that come and go
  between passes; the owners shown are right on every pass, and the pass log says how each pass
  found them.
* 1,000 passes over a churning set of sockets and processes: peak memory after 1,000 is that after
  10 (tracemalloc).
"""

from __future__ import annotations

import gc
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tracemalloc

import pytest

from pynetstat.cli import main
from pynetstat.env import Environment
from pynetstat.errors import Exit
from pynetstat.linux.owner_cache import FULL_WALK, PARTIAL_WALK, REUSED, OwnerCache

sys.path.insert(0, os.path.dirname(__file__))
from test_interval_live import LINGER_ABORT, isolated  # noqa: E402  (private-namespace runner)


class ProcTree:
    """A /proc made of plain files: PID/stat, and PID/fd/N links to ``socket:[inode]``."""

    def __init__(self, root):
        self.root = root

    def process(self, pid: int, start: int, inodes: list[int], comm: str = "x", ppid: int = 1):
        (self.root / str(pid) / "fd").mkdir(parents=True, exist_ok=True)
        fields = ["S", str(ppid)] + ["0"] * 17 + [str(start), "0", "0"]
        (self.root / str(pid) / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")
        for link in (self.root / str(pid) / "fd").iterdir():
            link.unlink()
        os.symlink("/dev/null", self.root / str(pid) / "fd" / "0")
        for fd, inode in enumerate(inodes, 3):
            os.symlink(f"socket:[{inode}]", self.root / str(pid) / "fd" / str(fd))

    def exit(self, pid: int) -> None:
        for path in sorted((self.root / str(pid)).rglob("*"), reverse=True):
            path.unlink() if not path.is_dir() or path.is_symlink() else path.rmdir()
        (self.root / str(pid)).rmdir()


def owners_of(owner_map, inodes):
    return {inode: owner_map.pids(inode) for inode in inodes}


def test_reuse_pid_reuse_and_early_stop(tmp_path):
    tree = ProcTree(tmp_path)
    tree.process(100, start=500, inodes=[7001, 7002])
    tree.process(200, start=600, inodes=[8001])
    tree.process(300, start=700, inodes=[])
    cache = OwnerCache(str(tmp_path))

    found = cache.lookup([(7001, 7002), (8001, 0)])
    assert cache.how == FULL_WALK and found.report.processes == 3
    assert owners_of(found, [7001, 7002, 8001]) == {7001: (100,), 7002: (100,), 8001: (200,)}

    found = cache.lookup([(7001, 7002, 8001)])  # nothing new: no fd table is read
    assert cache.how == REUSED and found.report.processes == 0
    assert owners_of(found, [7001, 8001]) == {7001: (100,), 8001: (200,)}

    # PID 100 exits and the kernel gives the number to a new process, which opens socket 9001.
    # Socket 7001 lives on (passed to a process we cannot see): it is no longer PID 100's.
    tree.exit(100)
    tree.process(100, start=900, inodes=[9001])
    found = cache.lookup([(7001, 8001, 9001)])
    assert cache.how == PARTIAL_WALK
    assert owners_of(found, [7001, 8001, 9001]) == {7001: (), 8001: (200,), 9001: (100,)}
    assert cache.known[100][0] == 900

    # A new process with a new socket: read first (newest PID first), and the walk stops there.
    tree.process(400, start=950, inodes=[9500])
    found = cache.lookup([(7001, 8001, 9001, 9500)])
    assert cache.how == PARTIAL_WALK and found.report.processes == 1
    assert owners_of(found, [9500, 9001]) == {9500: (400,), 9001: (100,)}

    # 7001 was looked for by a walk that read everything: it is not looked for again.
    found = cache.lookup([(7001, 8001, 9001, 9500)])
    assert cache.how == REUSED and found.report.processes == 0

    # A process that ran exec keeps its sockets, but its cached name goes (records are rebuilt).
    cache.records[200] = "stale record"
    tree.process(200, start=600, inodes=[8001], comm="newname")
    found = cache.lookup([(7001, 8001, 9001, 9500)])
    assert cache.how == REUSED and 200 not in cache.records
    assert owners_of(found, [8001]) == {8001: (200,)}

    # Sockets that closed are forgotten, and so are processes that own nothing listed any more.
    found = cache.lookup([(9500,)])
    assert dict(found.first) == {9500: 400} and set(cache.known) == {400}


# --- live ---------------------------------------------------------------------------------------

HOLDER = """
import socket, sys
s = socket.create_server(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"""


def holder() -> tuple[subprocess.Popen, int]:
    """A helper process holding one listening socket until its stdin closes: (process, port)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def stop(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.stdout.close()
    proc.wait(timeout=10)


class Clock:
    def __init__(self, between):
        self.now = 0.0
        self.passes = 0
        self.between = between

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.passes += 1
        self.between(self.passes)


def live_owner_scenario(log: str):
    helpers = {}
    steps = []

    def between(passes: int) -> None:
        if passes == 1:
            helpers["a"] = holder()
        elif passes == 3:
            stop(helpers.pop("a")[0])
            helpers["b"] = holder()
        elif passes == 4:
            raise KeyboardInterrupt
        steps.append({name: [p.pid, port] for name, (p, port) in helpers.items()})

    clock = Clock(between)
    out = io.StringIO()
    env = Environment(out, io.StringIO(), environ={"PYNETSTAT_PASS_TIMES": log},
                      monotonic=clock.monotonic, sleep=clock.sleep, wall_clock=clock.monotonic)
    status = main(["-ano", "--json", "1"], env)
    for _, (proc, _) in helpers.items():
        stop(proc)
    displays = []
    for line in out.getvalue().splitlines():
        doc = json.loads(line)
        displays.append([[c["local_port"], c["pid"]] for c in doc["connections"]
                         if c["state"] == "LISTENING"])
    with open(log) as f:
        hows = [json.loads(line)["owners"] for line in f]
    return {"status": status, "displays": displays, "steps": steps, "hows": hows}


def test_owners_stay_right_across_passes(tmp_path):
    got = isolated(live_owner_scenario, str(tmp_path / "passes.jsonl"))
    assert got["status"] == Exit.INTERRUPTED
    a_pid, a_port = got["steps"][0]["a"]
    b_pid, b_port = got["steps"][2]["b"]
    shown = [dict(map(tuple, display)) for display in got["displays"]]
    assert shown[1].get(a_port) == a_pid and shown[2].get(a_port) == a_pid
    assert a_port not in shown[3] and shown[3].get(b_port) == b_pid
    # Pass 1 walks every fd table; pass 2 looks for the one new socket; pass 3 reads no fd
    # table; pass 4 looks for the new helper's socket.
    assert got["hows"] == [FULL_WALK, PARTIAL_WALK, REUSED, PARTIAL_WALK]


# --- memory -------------------------------------------------------------------------------------

class Sink:
    """stdout that keeps nothing (what it printed must not count as memory)."""

    written = 0

    def write(self, text: str) -> None:
        self.written += len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def memory_scenario(passes: int):
    """``passes`` passes of -anob --changes over sockets that open and close every pass and
    processes that come and go. tracemalloc after a full collection (which also empties CPython's
    free lists, whose blocks tracemalloc still counts), and the peak of ten passes, early and late."""
    sockets: list[socket.socket] = []
    children: list[tuple[int, int]] = []
    marks = {}

    def churn(n: int) -> None:
        """Each pass, the oldest of five listener+connection trios closes and a new one opens."""
        if len(sockets) >= 15:
            for sock in sockets[:3]:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)  # no TIME_WAIT
                sock.close()
            del sockets[:3]
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        sockets.extend([listener, client, server])
        if n % 50 == 0:  # a process that holds a socket for 50 passes, then exits
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                for sock in sockets:  # the parent's sockets are not this process's to keep
                    sock.close()
                os.close(wfd)
                held = socket.create_server(("127.0.0.1", 0))
                os.read(rfd, 1)  # until killed
                held.close()
                os._exit(0)
            os.close(rfd)
            children.append((pid, wfd))
            while len(children) > 1:
                old, fd = children.pop(0)
                os.kill(old, signal.SIGKILL)
                os.waitpid(old, 0)
                os.close(fd)

    def reading() -> int:
        gc.collect()
        current = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        return current

    def between(n: int) -> None:
        churn(n)
        if n in (10, passes - 10):
            marks[f"current {n}"] = reading()
        elif n in (20, passes):
            marks[f"peak {n - 9}-{n}"] = tracemalloc.get_traced_memory()[1]
            marks[f"current {n}"] = reading()
            if n == passes:
                raise KeyboardInterrupt

    clock = Clock(between)
    sink = Sink()
    env = Environment(sink, io.StringIO(), environ={}, monotonic=clock.monotonic,
                      sleep=clock.sleep, wall_clock=clock.monotonic)
    churn(0)
    tracemalloc.start()
    status = main(["-anob", "--changes", "0.001"], env)
    tracemalloc.stop()
    for pid, _ in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return {"status": status, "written": sink.written, **marks}


@pytest.mark.slow  # 14 s: 1,000 passes (make soak)
def test_memory_stays_flat_over_1000_passes():
    got = isolated(memory_scenario, 1000)
    assert got["status"] == Exit.INTERRUPTED
    assert got["written"] > 100_000  # the changes were printed
    # Ten late passes need no more than ten early ones, and nothing piles up in between.
    assert got["peak 991-1000"] <= got["peak 11-20"] * 1.05 + 4096, got
    assert got["current 1000"] - got["current 10"] < 16 * 1024, got
    assert got["current 1000"] - got["current 20"] < 16 * 1024, got
