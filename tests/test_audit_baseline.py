"""--snapshot and --diff's core (issue 16): a scene in a test-made namespace, a baseline, then a
new listener, a replaced executable and a new destination, each reported once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from pynetstat.audit.baseline import diff_baselines, diff_status, dump_baseline, load_baseline
from pynetstat.errors import UsageError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_audit_live import Netns  # noqa: E402

# The scene: a server (a copy of Python at argv[1]) on a fixed port, a client connected to it;
# commands on stdin change it: "listen" (a new listener), "replace" (the server's file
# rewritten and the server restarted on its port), "connect PORT" (the client dials anew).
SCENE = textwrap.dedent(r"""
    import os, shutil, socket, subprocess, sys
    SERVE = '''
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
    print(s.getsockname()[1], flush=True)
    held = []
    while True:
        held.append(s.accept()[0])
    '''
    CLIENT = '''
    import socket, sys
    held = []
    for line in sys.stdin:
        held.append(socket.create_connection(("127.0.0.1", int(line))))
        print("ok", flush=True)
    '''
    server_exe = sys.argv[1]
    shutil.copy2(sys.executable, server_exe)
    def serve(port, exe=server_exe):
        p = subprocess.Popen([exe, "-c", SERVE, str(port)], stdout=subprocess.PIPE, text=True)
        return p, int(p.stdout.readline())
    server, port = serve(0)
    client = subprocess.Popen([sys.executable, "-c", CLIENT], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    def dial(port):
        client.stdin.write(f"{port}\n"); client.stdin.flush(); client.stdout.readline()
    dial(port)
    extra = []
    print(port, flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[0] == "listen":
            p, new = serve(0, sys.executable)
            extra.append(p)
            print(new, flush=True)
        elif words[0] == "replace":
            server.kill(); server.wait()
            with open(server_exe, "ab") as f:
                f.write(b"another build")
            server, _ = serve(port)
            print("ok", flush=True)
        elif words[0] == "connect":
            dial(int(words[1]))
            print("ok", flush=True)
    for p in [server, client, *extra]:
        p.kill(); p.wait()
""")

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]


def test_snapshot_then_three_changes_each_reported_once(tmp_path):
    ns = Netns()
    scene = None
    server = str(tmp_path / "pnst-server")

    def ask(line):
        scene.stdin.write(line + "\n")
        scene.stdin.flush()
        return scene.stdout.readline().strip()

    def snapshot(name):
        path = str(tmp_path / name)
        done = ns.pynetstat("--snapshot", path)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        with open(path, encoding="utf-8") as f:
            return load_baseline(f.read(), path)

    def diff(*args):
        done = ns.pynetstat("--diff", str(tmp_path / "before.json"), *args)
        assert done.stderr == ""
        return done

    try:
        scene = subprocess.Popen(ns.run([sys.executable, "-c", SCENE, server]),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        port = int(scene.stdout.readline())
        before = snapshot("before.json")
        assert diff_baselines(before, snapshot("again.json")) == []  # nothing moved
        same = diff()
        assert (same.returncode, same.stdout) == (0, "Diff: nothing changed since the baseline.\n")
        new_port = int(ask("listen"))
        assert ask("replace") == "ok"
        assert ask(f"connect {new_port}") == "ok"
        after = snapshot("after.json")
        text, as_json = diff(), diff("--json")
    finally:
        if scene is not None:
            scene.stdin.close()
            scene.wait(timeout=10)
        ns.close()
    python = os.path.realpath(sys.executable)
    (served,) = [e for e in before["executables"] if e["exe"] == server]
    assert served["listens"] and len(served["sha256"]) == 64
    assert {"proto": "tcp", "family": "ipv4", "address": "127.0.0.1", "port": port,
            "exe": server} in before["listeners"]
    assert before["destinations"] == [{"exe": python, "proto": "tcp", "address": "127.0.0.1",
                                       "port": port}]
    changes = diff_baselines(before, after)
    (now,) = [e["sha256"] for e in after["executables"] if e["exe"] == server]
    assert changes == [
        {"change": "new-listener", "proto": "tcp", "family": "ipv4", "address": "127.0.0.1",
         "port": new_port, "exe": python},
        {"change": "exe-changed", "exe": server, "was": served["sha256"], "now": now},
        {"change": "new-destination", "exe": python, "proto": "tcp", "address": "127.0.0.1",
         "port": new_port},
    ]
    # Through the command line: each change once, exit status 5, in text and in JSON.
    assert text.returncode == as_json.returncode == 5
    assert text.stdout.splitlines() == [
        f"new-listener tcp 127.0.0.1:{new_port} {python}",
        f"exe-changed {server} sha256 {served['sha256']} -> {now}",
        f"new-destination tcp 127.0.0.1:{new_port} {python}",
        "Diff: 3 changes since the baseline."]
    assert json.loads(as_json.stdout) == {"schema_version": 1, "changes": changes,
                                          "exit_status": 5}
    assert diff_baselines(after, before)[:1] == [
        {"change": "gone-listener", "proto": "tcp", "family": "ipv4", "address": "127.0.0.1",
         "port": new_port, "exe": python}]


def _doc(**kw):
    doc = {"format": "pynetstat-baseline", "version": 1, "taken": "t", "listeners": [],
           "executables": [], "destinations": []}
    doc.update(kw)
    return doc


def test_a_new_executable_carries_its_destinations_once():
    dest = {"exe": "/opt/x", "proto": "tcp", "address": "192.0.2.1", "port": 443}
    after = _doc(executables=[{"exe": "/opt/x", "names": ["x"], "users": [0], "listens": False,
                               "sha256": None}], destinations=[dest])
    assert diff_baselines(_doc(), after) == [
        {"change": "new-executable", "exe": "/opt/x", "names": ["x"], "users": [0],
         "destinations": [dest]}]


def test_a_baseline_round_trips_and_a_stranger_is_refused():
    doc = _doc(executables=[{"exe": "/tmp/a\udcffb", "names": [], "users": [], "listens": False,
                             "sha256": None}])
    assert load_baseline(dump_baseline(doc), "f") == doc
    for text in ("{", json.dumps({"format": "other"}), json.dumps(_doc(version=2)),
                 json.dumps(_doc(listeners=None))):
        with pytest.raises(UsageError, match="^f: "):
            load_baseline(text, "f")


def test_changes_are_printed_one_a_line_and_escaped():
    from pynetstat.render.audit import changes_json, changes_text

    changes = diff_baselines(_doc(executables=[{"exe": "/srv/a\x1b", "names": [], "users": [],
                                                "listens": True, "sha256": "aa"}]),
                             _doc(executables=[{"exe": "/srv/a\x1b", "names": [], "users": [],
                                                "listens": True, "sha256": "bb"}],
                                  listeners=[{"proto": "tcp", "family": "ipv6", "address": "::",
                                              "port": 8080, "exe": "/srv/a\x1b"}]))
    assert changes_text(changes) == (
        "new-listener tcp [::]:8080 /srv/a\\x1b\n"
        "exe-changed /srv/a\\x1b sha256 aa -> bb\n"
        "Diff: 2 changes since the baseline.\n")
    assert changes_text([]) == "Diff: nothing changed since the baseline.\n"
    assert (diff_status(changes), diff_status([])) == (5, 0)
    doc = changes_json(changes, diff_status(changes))
    assert doc["exit_status"] == 5 and [c["change"] for c in doc["changes"]] == [
        "new-listener", "exe-changed"]
    assert doc["changes"][0]["exe"] == "/srv/a\x1b"  # JSON keeps the real text
