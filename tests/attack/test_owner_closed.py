"""Sockets that closed during the scan are counted apart from those a process refused us
(issue 21 item 15, second part).

The scene, in a network namespace of its own (only its sockets are listed): a process that
refuses even root holds a listener (it keeps CAP_SYS_PTRACE, which the listing child has
dropped, as this machine's PID 1 refuses root); a process the listing may read opens and closes
another listener when told to. The kernel source is the live kernel, wrapped so that the
readable process acts at a chosen moment of the first dump:

* one-shot (the fd walk comes first, then the dump, so rows can stream): the listener is opened
  after the walk, just before the dump, and closed just after it;
* interval mode (the dump comes first, then the owner cache's walk): it is open before the run
  and closed just after the dump, before the walk.

Either way two sockets are listed without an owner: one still held by the refusing process, one
that no longer exists. The note and ``owner_scan`` say each with its own count; before the
change both were blamed on CAP_SYS_PTRACE.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import signal
import socket

import pytest

from .check import assert_quiet_stderr, run_inprocess
from .sandbox import CAP_SYS_PTRACE, CLONE_NEWNET, can_sandbox, drop_capability, in_child, unshare

pytestmark = [pytest.mark.root, pytest.mark.skipif(can_sandbox() is not None, reason=str(can_sandbox()))]

_PR_SET_PDEATHSIG = 1


def _forked(body) -> int:
    """A forked child (no exec: it keeps this process's capabilities) that runs ``body`` and
    dies with its parent."""
    pid = os.fork()
    if pid == 0:
        try:
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            body()
        finally:
            os._exit(0)
    return pid


def _listener() -> socket.socket:
    s = socket.socket()
    s.bind(("0.0.0.0", 0))  # lo is down in a new namespace; the wildcard needs no address
    s.listen(1)
    return s


class Toggler:
    """A process that opens a listener on ``b"o"`` (answering its port) and closes it on
    ``b"c"`` (answering ``b"k"``), one pipe each way."""

    def __init__(self, count: int = 1):
        cmd_r, self.cmd = os.pipe()
        self.answers, ans_w = os.pipe()

        def body():
            held = []
            while True:
                word = os.read(cmd_r, 1)
                if word == b"o":
                    held = [_listener() for _ in range(count)]
                    os.write(ans_w, held[0].getsockname()[1].to_bytes(2, "big"))
                elif word == b"c":
                    for sock in held:
                        sock.close()
                    os.write(ans_w, b"k")
                else:
                    return

        self.pid = _forked(body)

    def open(self) -> int:
        os.write(self.cmd, b"o")
        return int.from_bytes(os.read(self.answers, 2), "big")

    def close(self) -> None:
        os.write(self.cmd, b"c")
        assert os.read(self.answers, 1) == b"k"


class FirstDump:
    """The live kernel, with ``before`` run just before the first dump is asked for and
    ``after`` once its last message has been read; later dumps are the kernel's alone."""

    def __init__(self, before=None, after=None):
        from pynetstat.linux.netlink import LiveNetlink

        self.live = LiveNetlink()
        self.hooks = [(before, after)]
        self.count = 0  # dumps asked for

    def dump(self, request):
        from pynetstat.linux.netlink import Reply

        self.count += 1
        before, after = self.hooks.pop() if self.hooks else (None, None)
        if before is not None:
            before()
        reply = self.live.dump(request)
        return Reply(reply.seq, self._then(reply.chunks, after))

    @staticmethod
    def _then(chunks, after):
        # The whole reply is read first: a decoder stops at NLMSG_DONE without asking for more.
        chunks = list(chunks)
        if after is not None:
            after()
        yield from chunks

    def close(self):
        self.live.close()


def scene(run, count: int = 1):
    """In the listing child: a namespace of its own, the refusing holder (forked before
    CAP_SYS_PTRACE is dropped), then the readable toggler (forked after), then ``run``."""
    def body():
        unshare(CLONE_NEWNET)
        refused = _listener()
        holder = _forked(lambda: signal.pause())
        refused.close()  # the holder's copy is the only one
        drop_capability(CAP_SYS_PTRACE)
        toggler = Toggler(count)
        try:
            return run(toggler)
        finally:
            for pid in (holder, toggler.pid):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    return in_child(body)


def one_shot(argv, json_only: bool = False):
    def run(toggler):
        results = []
        for args in ([argv] if json_only else (argv, [*argv, "--json"])):
            source = FirstDump(before=toggler.open, after=toggler.close)
            results.append(run_inprocess(args, netlink=source))
        return [(r.status, r.out, r.err) for r in results]
    return run


def interval(toggler):
    """Two passes (a clock that never moves: no pass overruns the interval); the dumps each
    pass asked for."""
    from pynetstat.cli import main
    from pynetstat.env import Environment

    toggler.open()
    source = FirstDump(after=toggler.close)
    dumps = []

    def sleep(seconds):
        dumps.append(source.count)
        if len(dumps) == 2:
            raise KeyboardInterrupt

    out, err = io.StringIO(), io.StringIO()
    env = Environment(out, err, environ={"PYNETSTAT_RESOLVE_BUDGET": "1"},
                      netlink_factory=lambda: source, sleep=sleep, monotonic=lambda: 0.0)
    status = main(["-ano", "-p", "tcp", "--json", "1"], env)
    return [(status, out.getvalue(), err.getvalue(), dumps)]


NOTE = ("pynetstat: 2 sockets could not be attributed to a process: 1 still open (permission "
        "denied on the file descriptors of {n} process(es); reading them needs CAP_SYS_PTRACE), "
        "1 closed during the scan (the kernel no longer lists them)")


def judge(status: int, out: str, err: str, expect_status: int = 0, lines: bool = False) -> None:
    assert status == expect_status, err
    assert_quiet_stderr(err)
    notes = [line for line in err.splitlines() if "could not be attributed" in line]
    # interval mode: the first pass's note (a later pass, with the closed socket gone from the
    # dump, says its own)
    assert len(notes) == 1 or lines, err
    denied = notes[0].split(" process(es)")[0].rsplit(" ", 1)[1]
    assert notes[0] == NOTE.format(n=denied), notes[0]
    if out.startswith("{"):
        doc = json.loads(out.splitlines()[0] if lines else out)
        scan = doc["owner_scan"]
        assert scan["unattributed_sockets"] == 2, scan
        assert scan["closed_during_scan"] == 1, scan
        assert scan["unattributed_reason"] == "permission denied", scan
        assert scan["denied"] == int(denied), scan
        listeners = [c for c in doc["connections"] if c["state"] == "LISTENING"]
        assert len(listeners) == 2 and all(c["owners"] == [] for c in listeners), listeners


def test_one_shot_counts_closed_apart_from_refused():
    runs = scene(one_shot(["-ano", "-p", "tcp"]))
    for status, out, err in runs:
        judge(status, out, err)
    rows = [line.split() for line in runs[0][1].splitlines() if line.strip().startswith("TCP")]
    assert len(rows) == 2 and all(row[-1] == "-" for row in rows), runs[0][1]


def test_interval_counts_closed_apart_from_refused():
    (status, out, err, dumps), = scene(interval)
    judge(status, out, err, expect_status=130, lines=True)
    # The second pass lists the refused listener alone; the kernel was asked about it after
    # the first pass and still had it, so it is not asked again: one dump, not two.
    second = json.loads(out.splitlines()[1])["owner_scan"]
    assert (second["unattributed_sockets"], second["closed_during_scan"],
            second["unattributed_reason"]) == (1, 0, "permission denied"), second
    assert dumps == [2, 3], dumps


def test_past_max_ends_the_whole_table_is_asked_again():
    """More sockets to ask about than go into a program (owner_filter.MAX_ENDS): the kind's
    whole table is dumped again, with the same counts."""
    from pynetstat.linux.owner_filter import MAX_ENDS

    closing = MAX_ENDS + 6
    (status, out, err), = scene(one_shot(["-ano", "-p", "tcp", "--json"], json_only=True),
                                count=closing)
    assert status == 0, err
    scan = json.loads(out)["owner_scan"]
    assert (scan["unattributed_sockets"], scan["closed_during_scan"],
            scan["unattributed_reason"]) == (closing + 1, closing, "permission denied"), scan
    assert f"{closing + 1} sockets could not be attributed to a process: 1 still open" in err, err
