"""Faults: every read of /proc and every netlink call fails, in every way, at every place.

Nothing here mocks pynetstat's functions. The faults come from a hostile machine:

* a /proc tree on disk (``Environment(proc_root=...)``) in which one file at a time is missing
  (ENOENT), a dangling link (ENOENT), a link loop (ELOOP), a link to a name too long
  (ENAMETOOLONG), a directory (EISDIR), a FIFO (a read that never returns), empty, truncated
  mid-line (a short read), or, for an unprivileged reader, mode 000 (EACCES);
* a kernel double (``kernel.FakeKernel``, given as the netlink source) whose dump raises
  OSError (EINTR, ESRCH, EACCES, ENAMETOOLONG, ENOENT) at the request or midway, returns short,
  garbage, foreign or error buffers, or flags the dump as interrupted.

What must hold: the listing goes on with what could be read, the loss is counted and said once
on stderr and in the JSON, and there is never a traceback, nor a hang.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import tempfile

import pytest

from .check import assert_quiet_stderr, parse_json, parse_table, run_inprocess
from .kernel import BREAKS, FakeKernel, FakeProc, Sock, diag_message, error_message, garble, nlmsg
from .sandbox import NOBODY, become, can_sandbox, in_child

ERRNOS = [errno.EINTR, errno.ESRCH, errno.EACCES, errno.ENAMETOOLONG, errno.ENOENT]
SOCKS = [
    Sock("tcp", 4, 10, "127.0.0.1", 8080, inode=7001, cookie=11),
    Sock("tcp", 4, 1, "127.0.0.1", 8080, "127.0.0.1", 50000, inode=7002, cookie=12),
    Sock("tcp", 6, 10, "::1", 8443, inode=7003, cookie=13),
    Sock("udp", 4, 7, "127.0.0.1", 5353, inode=7004, cookie=14),
    Sock("udp", 6, 7, "::", 5353, inode=7005, cookie=15),
]
PID = 4100


class Hang(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: int = 10):
    """Fail, rather than hang the suite, when a read blocks (a FIFO)."""
    def ring(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def world_tmp() -> str:
    d = tempfile.mkdtemp(prefix="pynetstat-attack-")
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def tree():
    d = world_tmp()
    proc = FakeProc(d)
    proc.sockets(SOCKS)
    proc.process(PID, b"server", inodes=[s.inode for s in SOCKS])
    yield proc
    shutil.rmtree(d, ignore_errors=True)


def no_netlink(key, chunks, seq):
    """The kernel has no diag module for any protocol: NLMSG_ERROR, EOPNOTSUPP."""
    return [error_message(seq, errno.EOPNOTSUPP)]


def run(argv, proc, kernel=None):
    with deadline():
        result = run_inprocess(argv, proc_root=proc.root, netlink=kernel or FakeKernel(SOCKS))
    assert_quiet_stderr(result.err)
    return result


def note_lines(err: str) -> list[str]:
    return err.splitlines()


# --- /proc/net/* of the connection table (the /proc fallback) ----------------------------------

@pytest.mark.parametrize("how", BREAKS)
@pytest.mark.parametrize("name", ["tcp", "tcp6", "udp", "udp6"])
def test_proc_net_file_broken(tree, name, how):
    tree.break_path(f"net/{name}", how)
    result = run(["-ano", "--json"], tree, FakeKernel(fault=no_netlink))
    assert result.status == 0
    doc = parse_json(result.out)
    assert {c["proto"] for c in doc["connections"]} == {"tcp", "tcp6", "udp", "udp6"} - {name}
    path = f"{tree.root}/net/{name}"
    if how == "empty":
        assert doc["sources"][name] == "proc"
        return
    assert doc["sources"][name] == "unavailable"
    if how not in ("missing", "dangling") or name in ("tcp", "udp"):
        # Not a kernel without IPv6: something was lost, and it is said once, on stderr too.
        assert path in doc["unreadable"] or name in doc["fallback_reasons"]
        mentions = [line for line in note_lines(result.err) if path in line or f" {name}" in line]
        assert len(mentions) == 1, result.err
    text = run(["-ano"], tree, FakeKernel(fault=no_netlink))
    assert text.err == result.err
    parse_table(text.out, pids=True)


@pytest.mark.parametrize("keep", [1, 40, 150, 170, 240])
def test_proc_net_file_short_read(tree, keep):
    """The file ends mid-line: the lines before are kept, the cut one is counted."""
    tree.truncate("net/tcp", keep)
    result = run(["-ano", "--json"], tree, FakeKernel(fault=no_netlink))
    assert result.status == 0
    doc = parse_json(result.out)
    lost = len(doc["parse_errors"])
    shown = sum(c["proto"] == "tcp" for c in doc["connections"])
    assert shown + lost <= 2
    if lost:
        assert sum("malformed line" in line for line in note_lines(result.err)) == 1, result.err


@pytest.mark.skipif(can_sandbox() is not None, reason=str(can_sandbox()))
@pytest.mark.root
@pytest.mark.parametrize("name", ["tcp", "udp6"])
def test_proc_net_file_unreadable(tree, name):
    tree.break_path(f"net/{name}", "unreadable")

    def listing():
        return run(["-ano", "--json"], tree, FakeKernel(fault=no_netlink)).__dict__

    result = in_child(listing, setup=lambda: become(NOBODY))
    assert result["status"] == 0
    doc = parse_json(result["out"])
    assert doc["unreadable"] == {f"{tree.root}/net/{name}": "Permission denied"}
    assert sum("Permission denied" in line for line in result["err"].splitlines()) == 1


# --- the files of a process (-o, -b, -b -v) ------------------------------------------------

PROCESS_FILES = ["stat", "status", "cmdline", "cgroup", "comm", "exe", "fd", "fd/3"]


def owner_losses(out: str) -> tuple[int, int]:
    """(rows with no visible owner, rows whose owner could not be read) of a -b table."""
    unattributed = unread = 0
    pid = None
    for line in out.splitlines():
        if line.startswith(("  TCP ", "  UDP ")):
            pid = line.split()[-1]
            unattributed += pid == "-"
        elif "Can not obtain ownership information" in line and pid != "-":
            unread += 1
    return unattributed, unread


def one_note(err: str, words: str) -> bool:
    return sum(words in line for line in note_lines(err)) == 1


@pytest.mark.parametrize("how", BREAKS)
@pytest.mark.parametrize("rel", PROCESS_FILES)
def test_process_file_broken(tree, rel, how):
    tree.break_path(f"{PID}/{rel}", how)
    for argv in (["-anob"], ["-anobv"], ["-anobv", "--json"], ["-ano", "--json"]):
        result = run(argv, tree)
        assert result.status == 0, (argv, result)
        if "--json" in argv:
            doc = parse_json(result.out)
            assert len(doc["connections"]) == len(SOCKS)
            owners = [o for c in doc["connections"] for o in c["owners"]]
            unread = len({o["pid"] for o in owners if o.get("unreadable")})
            assert doc["owner_scan"].get("unreadable_processes", 0) == unread
            unattributed = doc["owner_scan"]["unattributed_sockets"]
        else:
            rows = parse_table(result.out, pids=True, owner_lines=True)
            assert len(rows) == len(SOCKS)
            unattributed, unread = owner_losses(result.out)
        assert one_note(result.err, "could not be attributed") == bool(unattributed), (argv, result.err)
        assert one_note(result.err, "could not be read") == bool(unread), (argv, result.err)


@pytest.mark.skipif(can_sandbox() is not None, reason=str(can_sandbox()))
@pytest.mark.root
@pytest.mark.parametrize("rel", ["stat", "status", "cmdline", "cgroup", "comm", "fd"])
def test_process_file_unreadable(tree, rel):
    """Mode 000 bites an unprivileged reader; the socket's row stays, the loss is said."""
    path = tree.path(f"{PID}/{rel}")
    if rel == "fd":
        path.chmod(0o444)  # listable, but its links may not be followed: EACCES on readlink
    else:
        tree.break_path(f"{PID}/{rel}", "unreadable")

    def listing():
        return [run(argv, tree).__dict__ for argv in (["-anob"], ["-anobv", "--json"])]

    text, js = in_child(listing, setup=lambda: become(NOBODY))
    assert text["status"] == js["status"] == 0
    rows = parse_table(text["out"], pids=True, owner_lines=True)
    assert len(rows) == len(SOCKS)
    parse_json(js["out"])
    assert text["err"] == js["err"]
    if rel == "fd":
        assert all(r[4] == "-" for r in rows)
        assert "permission denied" in text["err"], text["err"]
    elif rel != "comm":
        assert "Can not obtain ownership information" in text["out"]
        assert sum("could not be read" in line for line in text["err"].splitlines()) == 1, text["err"]


# --- netlink: the kernel double misbehaves ---------------------------------------------------

@pytest.mark.parametrize("err", ERRNOS, ids=errno.errorcode.get)
def test_netlink_dump_raises(tree, err):
    """The request itself fails: each protocol falls back to /proc, and the JSON says why."""
    def fault(key, chunks, seq):
        raise OSError(err, os.strerror(err))

    result = run(["-ano", "--json"], tree, FakeKernel(SOCKS, fault=fault))
    assert result.status == 0
    doc = parse_json(result.out)
    assert set(doc["sources"].values()) == {"proc"}
    assert len(doc["connections"]) == len(SOCKS)
    assert all(os.strerror(err) in why for why in doc["fallback_reasons"].values())


@pytest.mark.parametrize("err", ERRNOS, ids=errno.errorcode.get)
def test_netlink_dump_breaks_off(tree, err):
    """The dump fails after its first buffer: what came is kept, the loss is said once."""
    def fault(key, chunks, seq):
        def broken():
            yield chunks[0]
            raise OSError(err, os.strerror(err))
        return broken() if key == "sock_diag-tcp" else chunks

    kernel = FakeKernel(SOCKS * 3, per_buffer=1, fault=fault)
    result = run(["-ano", "--json"], tree, kernel)
    assert result.status == 0
    doc = parse_json(result.out)
    assert doc["sources"]["tcp"] == "netlink (incomplete)"
    assert sum(c["proto"] == "tcp" for c in doc["connections"]) == 1
    notes = [line for line in note_lines(result.err) if "incomplete" in line or "broke off" in line]
    assert len(notes) == 1, result.err


@pytest.mark.parametrize("cut", [1, 15, 16, 17, 40, 87, 88, 89, 100, 170])
def test_netlink_short_read(tree, cut):
    """A receive buffer cut short: messages that fit are kept, the cut one is counted."""
    def fault(key, chunks, seq):
        return [chunks[0][:cut]] + chunks[1:]

    result = run(["-ano", "--json"], tree, FakeKernel(SOCKS * 2, fault=fault))
    assert result.status == 0
    doc = parse_json(result.out)
    if doc["netlink"]["malformed"]:
        assert sum("malformed netlink" in line for line in note_lines(result.err)) == 1


@pytest.mark.parametrize("seed", range(40))
def test_netlink_garbage(tree, seed):
    """Random bytes, random splices of real messages and random length fields."""
    rng = random.Random(seed)

    def fault(key, chunks, seq):
        return garble(chunks, rng, extra=diag_message(SOCKS[0], seq + rng.choice([-1, 1])))

    for argv in (["-ano", "--json"], ["-anob"]):
        result = run(argv, tree, FakeKernel(SOCKS * 2, fault=fault))
        assert result.status == 0
        if "--json" in argv:
            parse_json(result.out)
        else:
            parse_table(result.out, pids=True, owner_lines=True)


@pytest.mark.parametrize("kind", ["error", "done_error", "intr", "foreign", "empty", "no_done"])
def test_netlink_replies(tree, kind):
    def fault(key, chunks, seq):
        if kind == "error":  # NLMSG_ERROR: no diag module for this protocol
            return [nlmsg(2, 0, seq, (-errno.ENOENT).to_bytes(4, "little", signed=True) + bytes(16))]
        if kind == "done_error":
            return [nlmsg(3, 2, seq, (-errno.ENOENT).to_bytes(4, "little", signed=True))]
        if kind == "intr":  # NLM_F_DUMP_INTR on every message
            return [bytes(c[:6]) + (int.from_bytes(c[6:8], "little") | 0x10).to_bytes(2, "little")
                    + c[8:] if len(c) >= 16 else c for c in chunks]
        if kind == "foreign":
            return [diag_message(SOCKS[0], seq + 7)] + chunks
        if kind == "empty":
            return []
        return chunks[:-1]

    result = run(["-ano", "--json"], tree, FakeKernel(SOCKS, fault=fault, per_buffer=1))
    assert result.status == 0
    doc = parse_json(result.out)
    assert len(doc["connections"]) == len(SOCKS)
    if kind == "intr":
        assert doc["netlink"]["interrupted"] is True
        assert sum("changed while" in line for line in note_lines(result.err)) == 1, result.err
    if kind == "foreign":
        assert doc["netlink"]["foreign"] == 4
        assert len(note_lines(result.err)) == 1


# --- -s, -e, -r ---------------------------------------------------------------------------

SECTION_FILES = {"-s": ["net/snmp", "net/netstat", "net/snmp6"],
                 "-e": ["net/dev"], "-r": ["net/route", "net/ipv6_route", "net/dev"]}


@pytest.mark.parametrize("how", BREAKS + ("truncated",))
@pytest.mark.parametrize("flag,rel", [(f, r) for f, rels in SECTION_FILES.items() for r in rels])
def test_section_file_broken(tree, flag, rel, how):
    """With netlink gone too (for -e and -r), one counter file broken: what can be shown is."""
    if how == "truncated":  # a short read: the last line cut after 12 bytes
        tree.truncate(rel, tree.path(rel).read_bytes().rstrip(b"\n").rindex(b"\n") + 13)
    else:
        tree.break_path(rel, how)
    kernel = FakeKernel(rtnl_dir=None)  # every rtnetlink dump answers EOPNOTSUPP
    for argv in ([flag], [flag, "--json"], [flag, "-v"]):
        result = run(argv, tree, kernel)
        assert result.status in (0, 1), result
        if result.status == 1:
            # Nothing at all could be shown: one line says why.
            assert len(note_lines(result.err)) == 1 and not result.out, result
            assert flag == "-e" or (flag == "-r" and rel == "net/dev"), result
        else:
            if "--json" in argv:
                json.loads(result.out)
            said = [line for line in note_lines(result.err) if str(tree.path(rel)) in line]
            # A missing or empty file is what a kernel without that protocol shows: no loss.
            assert len(said) == (how not in ("missing", "dangling", "empty")), result.err


@pytest.mark.parametrize("err", ERRNOS, ids=errno.errorcode.get)
@pytest.mark.parametrize("flag", ["-e", "-r", "-er", "-es"])
def test_rtnetlink_dump_raises(tree, flag, err):
    def fault(key, chunks, seq):
        raise OSError(err, os.strerror(err))

    result = run([flag, "--json"], tree, FakeKernel(fault=fault))
    assert result.status == 0, result
    doc = json.loads(result.out)
    for key in ("interfaces", "routes"):
        if key in doc:
            assert "procfs" in str(doc[key]["source"]) or "proc" in str(doc[key]["source"])


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("flag", ["-e", "-r", "-rv"])
def test_rtnetlink_garbage(tree, flag, seed):
    rng = random.Random(seed)

    def fault(key, chunks, seq):
        return garble(chunks, rng)

    result = run([flag], tree, FakeKernel(fault=fault))
    assert result.status in (0, 1), result
    assert_quiet_stderr(result.err)


def test_replay_recording_unreadable(tmp_path):
    """PYNETSTAT_NETLINK_REPLAY pointing at a directory where a recording is a directory."""
    (tmp_path / "sock_diag-tcp.nl").mkdir()
    (tmp_path / "rtnl-link.nl").write_bytes(b"not a recording")
    for argv in (["-an"], ["-e"]):
        with deadline():
            result = run_inprocess(argv, environ={"PYNETSTAT_NETLINK_REPLAY": str(tmp_path)})
        assert_quiet_stderr(result.err)
        assert result.status == 0, result
