"""--audit, --snapshot and --diff through the command line (issue 16): the JSON document's schema
(docs/audit.md) over a recorded kernel, the exit statuses, a bad baseline file, what cannot be
combined, and a snapshot written whole or not at all."""

from __future__ import annotations

import json
import os

import pytest

from helpers import run_inprocess
from pynetstat.linux.netlink import ReplayNetlink

LINUX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "linux")
HIDDEN = 5238524  # the listener audit-crossview/README.md says was taken out of proc/net/tcp


def _replayed(name: str, *argv: str):
    base = os.path.join(LINUX, name)
    return run_inprocess(list(argv), environ={}, proc_root=os.path.join(base, "proc"),
                         netlink=ReplayNetlink(os.path.join(base, "netlink")))


class _NoKernel:
    """A netlink source that fails the test if it is asked anything."""

    def dump(self, request):
        raise AssertionError("the kernel was read before the baseline file was checked")

    def close(self):
        pass


SCALARS = (bool, int, str, type(None))


def _check_value(value):
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            _check_value(v)
    elif isinstance(value, list):
        for v in value:
            _check_value(v)
    else:
        assert isinstance(value, SCALARS), value


def _check_schema(doc: dict) -> None:
    """Every key and type docs/audit.md's "JSON output" names, and nothing else."""
    assert set(doc) == {"schema_version", "findings", "notes", "summary", "exit_status"}
    assert doc["schema_version"] == 1
    assert set(doc["summary"]) == {"alert", "warning", "info", "processes"}
    for f in doc["findings"]:
        assert set(f) == {"severity", "sign", "why", "process", "sockets", "evidence"}
        assert f["severity"] in ("alert", "warning", "info")
        assert isinstance(f["sign"], str) and isinstance(f["why"], str)
        if f["process"] is not None:
            assert set(f["process"]) == {"pid", "name", "exe", "exe_deleted", "user", "ancestry",
                                         "unreadable"}
        for s in f["sockets"]:
            assert set(s) == {"proto", "family", "state", "local_address", "local_port",
                              "remote_address", "remote_port", "inode"}
            assert isinstance(s["local_port"], int) and s["family"] in ("ipv4", "ipv6")
        for e in f["evidence"]:
            assert set(e) == {"what", "value", "source", "unreadable"}
            _check_value(e["value"])
            assert e["unreadable"] is None or e["value"] is None
        assert sum(x["severity"] == f["severity"] for x in doc["findings"]) \
            == doc["summary"][f["severity"]]
    assert all(isinstance(n, str) for n in doc["notes"])


def test_audit_json_over_a_recorded_kernel_finds_the_hidden_line_and_says_alert():
    done = _replayed("audit-crossview", "--audit", "--json")
    assert done.status == 3 and done.err == ""
    doc = json.loads(done.out)
    _check_schema(doc)
    assert doc["exit_status"] == 3
    (found,) = [f for f in doc["findings"] if f["sign"] == "views-disagree"]
    assert found["severity"] == "alert"
    assert [s["inode"] for s in found["sockets"]] == [HIDDEN]
    assert [(e["what"], e["value"]) for e in found["evidence"]] == [
        ("listed by", "sock_diag tcp"), ("missing from", "/proc/net/tcp")]


def test_audit_text_over_a_recorded_kernel():
    done = _replayed("audit-crossview", "--audit")
    assert done.status == 3 and done.err == ""
    lines = done.out.splitlines()
    at = lines.index("ALERT views-disagree: The kernel's two lists of sockets disagree, twice: "
                     "someone hides lines from one.")
    assert lines[at + 1] == (f"    socket: tcp 127.0.0.1:45253 -> 0.0.0.0:0 LISTEN inode {HIDDEN}")
    assert lines[-1].startswith("Audit: 1 alert, ")


def test_agreeing_views_give_no_alert():
    done = _replayed("conn-normal", "--audit", "--json")
    doc = json.loads(done.out)
    assert not [f for f in doc["findings"] if f["sign"] == "views-disagree"]
    assert done.status == doc["exit_status"]


BAD_BASELINES = {
    "not-json.json": (b"{", "not a pynetstat baseline: "),
    "foreign.json": (b'{"format": "osquery-pack", "queries": {}}', "not a pynetstat baseline"),
    "future.json": (json.dumps({"format": "pynetstat-baseline", "version": 2}).encode(),
                    "baseline version 2; this pynetstat reads version 1"),
    "cut.json": (json.dumps({"format": "pynetstat-baseline", "version": 1, "listeners": [{}],
                             "executables": [], "destinations": []}).encode(),
                 "listeners[0] is not an entry with address, exe, family, port, proto"),
    "binary.json": (b"\xff\xfe\x00\x01", "not a pynetstat baseline (not UTF-8 text)"),
}


@pytest.mark.parametrize("name", sorted(BAD_BASELINES))
def test_a_file_that_is_no_baseline_is_one_line_and_exit_2(tmp_path, name):
    data, says = BAD_BASELINES[name]
    path = tmp_path / name
    path.write_bytes(data)
    done = run_inprocess(["--diff", str(path)], environ={}, netlink=_NoKernel())
    assert (done.status, done.out) == (2, "")
    assert done.err.count("\n") == 1 and done.err.startswith(f"pynetstat: {path}: ")
    assert says in done.err


def test_a_missing_baseline_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "none.json"
    done = run_inprocess(["--diff", str(path)], environ={}, netlink=_NoKernel())
    assert (done.status, done.out) == (2, "")
    assert done.err == f"pynetstat: {path}: cannot read the baseline: No such file or directory\n"


@pytest.mark.parametrize("argv", [["--audit", "--snapshot", "f"], ["--audit", "--diff", "f"],
                                  ["--audit", "2"], ["--snapshot", "f", "-s"],
                                  ["--diff", "f", "-r"], ["--audit", "-p", "tcp"]])
def test_what_the_audit_does_not_combine_with_is_a_usage_error(argv):
    done = run_inprocess(argv, environ={}, netlink=_NoKernel())
    assert (done.status, done.out) == (2, "")
    assert "cannot be combined with" in done.err and "usage: pynetstat" in done.err


def test_snapshot_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "base.json"
    path.write_text("an older baseline")
    done = _replayed("conn-normal", "--snapshot", str(path))
    assert (done.status, done.out) == (0, "")
    doc = json.loads(path.read_text())
    assert doc["format"] == "pynetstat-baseline" and doc["version"] == 1
    assert os.listdir(tmp_path) == ["base.json"]
    assert path.stat().st_mode & 0o777 == 0o600  # it lists the host's programs and peers


def test_diff_then_snapshot_to_the_same_file_compares_with_the_old_one(tmp_path):
    path = tmp_path / "base.json"
    listener = {"proto": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 22,
                "exe": "/usr/sbin/sshd"}
    old = {"format": "pynetstat-baseline", "version": 1, "taken": "t", "listeners": [listener],
           "executables": [], "destinations": []}
    path.write_text(json.dumps(old))
    # The recording has no /proc/PID: no process holds a socket, so sshd's listener is gone.
    done = _replayed("conn-normal", "--diff", str(path), "--snapshot", str(path), "--json")
    assert json.loads(done.out) == {"schema_version": 1, "exit_status": 5, "changes": [
        {"change": "gone-listener", **listener}]}
    assert done.status == 5
    new = json.loads(path.read_text())
    assert new["listeners"] == [] and new["taken"] != "t"  # written after the comparison


def test_a_snapshot_that_cannot_be_written_is_exit_1_and_leaves_nothing(tmp_path):
    target = tmp_path / "is-a-directory"
    target.mkdir()
    done = _replayed("conn-normal", "--snapshot", str(target))
    assert done.status == 1 and done.out == ""
    assert done.err.startswith(f"pynetstat: cannot write to {target}: ")
    assert done.err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["is-a-directory"]



def test_snapshot_hashes_only_the_executables_of_listeners_each_once(monkeypatch, tmp_path):
    """``pynetstat --snapshot`` on this host, with a pre-fork server of ours on loopback (two
    processes, one executable, one listener) and a client of another executable: each listening
    executable read once, the others never."""
    import socket
    import subprocess
    import sys

    from pynetstat.linux import exehash

    server = socket.create_server(("127.0.0.1", 0))
    worker = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                              stdin=subprocess.PIPE, pass_fds=[server.fileno()])
    client = socket.create_connection(server.getsockname())
    read = []
    real = exehash._sha256
    monkeypatch.setattr(exehash, "_sha256", lambda fd: read.append(os.fstat(fd).st_ino) or real(fd))
    try:
        done = run_inprocess(["--snapshot", str(tmp_path / "b.json")], environ={})
    finally:
        worker.kill()
        worker.wait()
        client.close()
        server.close()
    assert done.status == 0
    doc = json.loads((tmp_path / "b.json").read_text())
    python = os.path.realpath(sys.executable)
    (ours,) = [e for e in doc["executables"] if e["exe"] == python]
    assert ours["listens"] and len(ours["sha256"]) == 64
    assert len(read) == len(set(read))  # each file once, however many processes run it
    assert len(read) <= sum(e["listens"] for e in doc["executables"])
    assert all(e["sha256"] is None for e in doc["executables"] if not e["listens"])
