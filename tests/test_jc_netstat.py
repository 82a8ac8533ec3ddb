"""jc, the widely used parser of Windows netstat output, as a real client of the text format
(issue 11): for a live scene in a namespace the test makes (listeners, established pairs, UDP,
IPv6, a socket shared by three processes, and owners pynetstat may not read), ``jc --netstat``
on ``-an``, ``-ano``, ``-anob``, ``-a`` and the default view finds exactly the sockets and PIDs
that the JSON output of the same view gives; and it reads our text with the same field names as
the real Windows captures in tests/fixtures/windows-netstat (jc's own test fixtures).

pynetstat runs as uid 65534 (tests/attack/sandbox.py): the scene's processes of that uid are
readable, those of root are not, as with any user running netstat -o."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import jc
import pytest
import record_stats

from attack.check import run_inprocess
from attack.sandbox import NOBODY, become, can_sandbox, in_child
from conftest import FIXTURES

pytestmark = [*record_stats.netns_marks(),
              pytest.mark.skipif(can_sandbox() is not None, reason=str(can_sandbox()))]

WINDOWS = os.path.join(FIXTURES, "windows-netstat")
CLONE_NEWNET = 0x40000000

# Run inside the namespace, each until its stdin closes. Root's sockets have owners uid 65534
# may not read. The other scene drops to 65534 first (a process that changed uid is not
# dumpable, which would hide its fds from its own user: it makes itself dumpable again); two
# children it forks share its first listener (three processes, one socket).
HELPERS = """
import ctypes, os, socket, sys
A4, A6 = socket.AF_INET, socket.AF_INET6
held = []
def listener(family, host, kind=socket.SOCK_STREAM):
    s = socket.socket(family, kind)
    s.bind((host, 0))
    if kind == socket.SOCK_STREAM:
        s.listen(8)
    held.append(s)
    return s
def pair(family, server, host):
    c = socket.socket(family)
    c.connect((host, server.getsockname()[1]))
    held.extend((c, server.accept()[0]))
"""
ROOT_SCENE = HELPERS + """
root = listener(A4, "127.0.0.1")
pair(A4, root, "127.0.0.1")
print("ready", flush=True)
sys.stdin.read()
"""
NOBODY_SCENE = HELPERS + """
os.setgroups([]); os.setgid(65534); os.setuid(65534)
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
shared = listener(A4, "0.0.0.0")
for _ in range(2):
    if os.fork() == 0:
        sys.stdin.read()
        os._exit(0)
l4 = listener(A4, "127.0.0.1"); pair(A4, l4, "127.0.0.1")
l6 = listener(A6, "::1"); pair(A6, l6, "::1")
any6 = listener(A6, "::"); pair(A4, any6, "127.0.0.1")  # an IPv4 peer of an IPv6 listener
listener(A4, "127.0.0.1", socket.SOCK_DGRAM)
listener(A6, "::1", socket.SOCK_DGRAM)
listener(A4, "127.0.0.1", socket.SOCK_DGRAM).connect(("127.0.0.1", 9))
print("ready", flush=True)
sys.stdin.read()
"""

# The views a script written for Windows reads, and jc's capture of the same view.
VIEWS = {"-an": "netstat-an.out", "-ano": "netstat-aon.out", "-anob": "netstat-aonb.out",
         "-a": None, "": "netstat.out"}


def _enter(netns: str) -> None:
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


@pytest.fixture(scope="module")
def listed():
    """``{view: (text, json text)}`` of pynetstat run as uid 65534 inside the scene's netns."""
    ns = record_stats.Netns("jcn")
    scenes = []
    try:
        ns.ip("link", "set", "lo", "up")
        for script in (ROOT_SCENE, NOBODY_SCENE):
            p = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", script],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            scenes.append(p)
            assert p.stdout.readline() == "ready\n"

        def run(argv):
            # Each run in its own child: with names (-a) a run leaves resolver threads behind,
            # and a lookup still in flight holds a UDP socket that the next run would list.
            return in_child(lambda: run_inprocess(argv),
                            setup=lambda: (_enter(ns.name), become(NOBODY)))

        out = {}
        for view in VIEWS:
            argv = [view] if view else []
            text, doc = run(argv), run([*argv, "--json"])
            assert text.status == doc.status == 0, (text.err, doc.err)
            out[view] = (text.out, doc.out)
        yield out
    finally:
        for p in scenes:
            p.stdin.close()
            p.wait(timeout=10)
        ns.delete()


def _cells(rec: dict, names: bool) -> tuple:
    """What a reader of the text should find for one JSON record: jc's fields."""
    def host(address):
        return f"[{address}]" if rec["family"] == "ipv6" else address

    local_port = (names and rec["local_service"]) or str(rec["local_port"])
    if rec["proto"].startswith("udp") and rec["remote_port"] == 0:
        foreign, foreign_port = "*", "*"
    else:
        foreign = (names and rec["remote_host"]) or host(rec["remote_address"])
        foreign_port = (names and rec["remote_service"]) or str(rec["remote_port"])
    return (rec["proto"][:3].upper(), host(rec["local_address"]), local_port, foreign,
            foreign_port, rec["state"] or "")


def _theirs(entry: dict) -> tuple:
    return (entry["proto"], entry["local_address"], entry["local_port"],
            entry["foreign_address"], entry["foreign_port"], entry.get("state") or "")


def test_the_scene_holds_every_case(listed):
    recs = json.loads(listed["-ano"][1])["connections"]
    assert any(len(r["owners"]) == 3 for r in recs)  # one socket, three processes
    assert any(r["inode"] and not r["owners"] for r in recs)  # an owner we may not read
    assert {r["proto"] for r in recs} == {"tcp", "tcp6", "udp", "udp6"}
    assert {r["state"] for r in recs} >= {"LISTENING", "ESTABLISHED"}
    assert any(r["ipv4_mapped"] for r in recs)


@pytest.mark.parametrize("view", list(VIEWS), ids=lambda v: v or "default")
def test_jc_finds_the_sockets_and_pids_of_the_json(listed, view):
    text, doc = listed[view]
    parsed = jc.parse("netstat", text, quiet=True)
    recs = json.loads(doc)["connections"]
    names = "n" not in view
    assert sorted(map(_theirs, parsed)) == sorted(_cells(r, names) for r in recs)
    if "o" in view:
        pids = sorted((_theirs(e), e["pid"]) for e in parsed)
        assert pids == sorted((_cells(r, names), r["pid"]) for r in recs)
        assert all(isinstance(e["pid"], int) or e["pid"] is None for e in parsed)
    if "b" in view:
        by_cells = {_cells(r, names): r for r in recs}
        for entry in parsed:
            owners = by_cells[_theirs(entry)]["owners"]
            if owners:
                exes = {f"[{os.path.basename(o['exe'] or o['name'])}]" for o in owners}
                assert entry["program_name"] in exes, entry
            else:
                assert entry["program_name"] == "Can not obtain ownership information", entry


@pytest.mark.parametrize("view", [v for v in VIEWS if VIEWS[v]], ids=lambda v: v or "default")
def test_jc_reads_ours_with_the_field_names_of_a_windows_capture(listed, view):
    with open(os.path.join(WINDOWS, VIEWS[view]), encoding="ascii", newline="") as f:
        theirs = jc.parse("netstat", f.read(), quiet=True)
    ours = jc.parse("netstat", listed[view][0], quiet=True)
    assert ours and theirs
    assert set().union(*ours) == set().union(*theirs)
