"""The command line as users type it: flags that combine, usage errors that are one line and exit
2 with no traceback, --help and --version, a closed pipe, Ctrl+C, and the stderr note about
sockets no visible process holds. Run in-process with the environment injected, and as a
subprocess of the launcher."""

from __future__ import annotations

import importlib.util
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

import pynetstat
from conftest import LAUNCHER, REPO, parse_table, run_inprocess
from pynetstat.cli import parse_args
from pynetstat.errors import Exit

V4 = "127.0.0.1"
QUICK = {**os.environ, "PYNETSTAT_RESOLVE_BUDGET": "0.5"}  # without -n: names, within 0.5 s

SAME = [
    [["-ano"], ["-a", "-n", "-o"], ["-an", "-o"], ["-o", "-na"], ["--all", "--numeric", "--pids"]],
    [["-an", "-p", "tcp"], ["-anp", "tcp"], ["-anptcp"], ["-a", "-n", "-p", "TCP"], ["-p", "Tcp", "-an"]],
    [["-p", "TCPv6"], ["-p", "tcpv6"], ["-pTCPV6"]],
]


@pytest.mark.parametrize("spellings", SAME, ids=lambda group: " = ".join(" ".join(a) for a in group))
def test_spellings_mean_the_same(spellings):
    first, *rest = (repr(parse_args(argv)) for argv in spellings)
    assert rest == [first] * len(rest)


# (argv, PID column?, the protocol every row must be, IPv6?)
COMBINED = [
    (["-ano"], True, None, None),
    (["-an", "-p", "tcp"], False, "TCP", False),
    (["-a", "-n", "-o"], True, None, None),
    (["-anp", "tcp"], False, "TCP", False),
    (["-p", "TCPv6"], False, "TCP", True),
]


@pytest.mark.parametrize(("argv", "pid", "proto", "v6"), COMBINED, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_combined_flags_run(argv, pid, proto, v6):
    result = run_inprocess(argv, environ=QUICK)
    assert result.status == 0
    # -o may add a note: a socket no process in this PID namespace holds is ordinary on a host.
    assert all(line.startswith("pynetstat: ") for line in result.stderr.splitlines()), result.stderr
    assert result.stdout.split("\n")[3].rstrip().endswith("PID") == pid
    for cells in parse_table(result.stdout, numeric="n" in "".join(argv)):
        assert len(cells) == (5 if pid else 4)
        if proto:
            assert cells[0] == proto
        if v6 is not None:
            assert cells[1].startswith("[") == v6


def assert_usage_error(result, *needles: str) -> list[str]:
    """Exit 2, nothing on stdout, no traceback, exactly one usage line; the other lines."""
    assert result.status == Exit.USAGE == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("usage: pynetstat ")] == [lines[-1]]
    others = lines[:-1]
    assert len(others) == 1 and others[0].startswith("pynetstat: "), lines
    for needle in needles:
        assert needle in others[0]
    return others


@pytest.mark.parametrize(("argv", "needle"), [(["-z"], "-z"), (["--bogus"], "--bogus"),
                                              (["-anz"], "-z"), (["-a", "--nope", "-n"], "--nope")])
def test_unknown_flag(run_cli, argv, needle):
    assert_usage_error(run_cli(argv), needle)


@pytest.mark.parametrize("argv", [["-p", "icmp4"], ["-p", "tcp4"], ["-p", "tcp,udp4"], ["-anp", "sctp4"], ["-p", "IPv6"],
                                  ["-an", "-p", ""]])
def test_bad_protocol_names_the_valid_values(run_cli, argv):
    assert_usage_error(run_cli(argv), "TCP, UDP, TCPv6, UDPv6")


def test_protocol_missing(run_cli):
    assert_usage_error(run_cli(["-an", "-p"]), "TCP, UDP, TCPv6, UDPv6")


def test_statistics_protocols_need_s():
    stats = run_inprocess(["-s", "-p", "icmp"])
    assert (stats.status, stats.stderr) == (0, "")
    assert "ICMP" in stats.stdout
    assert_usage_error(run_inprocess(["-an", "-p", "ip"]), "'ip'")
    # -s takes one protocol; the connection table a list
    assert_usage_error(run_inprocess(["-s", "-p", "tcp,udp"]), "-s takes one protocol")
    assert_usage_error(run_inprocess(["-s", "-p", "sctp"]), "IP, IPv6, ICMP, ICMPv6, TCP, TCPv6, UDP, UDPv6")


@pytest.mark.parametrize("interval", ["0", "-1", "abc", "inf", "-inf", "nan", "0.0", "1e999"])
def test_bad_interval(run_cli, interval):
    assert_usage_error(run_cli(["-an", interval]), "interval", repr(interval))


@pytest.mark.parametrize(("argv", "needle"), [
    (["--serve", "-s"], "--serve cannot be combined with -s"),
    (["--serve", "--json"], "--serve cannot be combined with --json"),
    (["--serve", "1.2"], "invalid --serve address '1.2'"),  # a word after --serve: its address
    (["--serve", "-an", "2"], "--serve cannot be combined with an interval"),
    (["--serve=localhost:9817"], "a numeric IPv4 address or [IPv6] address"),
    (["--serve", "[::1]:99999"], "a port from 1 to 65535"),
    (["--serve-cert", "c.pem", "--serve-key", "k.pem"], "--serve-cert goes with --serve"),
    (["--serve", "--serve-cert", "c.pem"], "--serve-cert and --serve-key go together"),
    (["--serve", "--serve-client-ca", "ca.pem"], "--serve-client-ca goes with --serve-cert"),
])
def test_serve_usage_errors(argv, needle):
    assert_usage_error(run_inprocess(argv), needle)


def test_serve_address_forms():
    from pynetstat.cli import parse_args

    assert parse_args(["--serve"]).serve == ("127.0.0.1", 9817)
    assert parse_args(["--serve", "-n"]).serve == ("127.0.0.1", 9817)
    assert parse_args(["--serve", "9100"]).serve == ("127.0.0.1", 9100)
    assert parse_args(["--serve=[::]:9100"]).serve == ("::", 9100)
    assert parse_args(["--serve", "0.0.0.0:80", "--port", "443"]).serve == ("0.0.0.0", 80)


def test_help(run_cli):
    for flag in ("--help", "-h"):
        result = run_cli([flag])
        assert (result.status, result.stderr) == (0, "")
        assert "usage: pynetstat" in result.stdout
        for option in ("-a", "-b", "-e", "-n", "-o", "-p proto", "-r", "-s", "-v", "interval", "--json"):
            assert f"  {option} " in result.stdout, option


def test_version(run_cli):
    # pyproject's [project] version, read without tomllib (Python 3.11+)
    with open(os.path.join(REPO, "pyproject.toml"), encoding="utf-8") as f:
        version = re.search(r'^\[project\]$.*?^version = "([^"]+)"$', f.read(), re.M | re.S)[1]
    assert version == pynetstat.__version__
    result = run_cli(["--version"])
    assert (result.status, result.stdout, result.stderr) == (0, f"pynetstat {version}\n", "")


def test_closed_pipe_before_the_first_write():
    """The reader is gone before pynetstat writes a byte: exit 141, quietly."""
    p = subprocess.Popen([sys.executable, LAUNCHER, "-an"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    _, err = p.communicate(timeout=60)
    assert p.returncode == Exit.BROKEN_PIPE, err
    assert b"Traceback" not in err and b"Error" not in err


@pytest.mark.parametrize("argv", [["-an"], ["-an", "--json"]])
def test_closed_pipe_mid_output(sockets, tmp_path, argv):
    """`pynetstat -an | head -1`, as a shell runs it, with far more rows than a pipe holds (3000
    loopback connections of our own, about 0.5 MB of output against a 64 KiB pipe: the pipe
    fills and head leaves mid-output; with fewer, head could drain it all and the run end 0)."""
    listener = socket.socket()
    sockets.append(listener)
    listener.bind((V4, 0))
    listener.listen(4096)
    for _ in range(3000):
        c = socket.create_connection(listener.getsockname())
        sockets += [c, listener.accept()[0]]
    err = tmp_path / "stderr"
    script = '"$0" "$1" "${@:3}" 2>"$2" | head -1; echo "status=${PIPESTATUS[0]}"'
    out = subprocess.run(["bash", "-c", script, sys.executable, LAUNCHER, str(err), *argv],
                         capture_output=True, text=True, timeout=60).stdout
    first, status = out.splitlines()
    if "--json" in argv:
        assert first.startswith('{"schema_version": 1, "connections": [')
    else:
        assert first == ""  # the table opens with a blank line, as the spec's netstat does
    assert status == f"status={Exit.BROKEN_PIPE}"
    assert "Traceback" not in err.read_text() and "Error" not in err.read_text()


@pytest.mark.xfail(importlib.util.find_spec("pynetstat.modes.interval") is None,
                   reason="interval mode not built yet", strict=False)
def test_ctrl_c_ends_interval_mode_quietly():
    p = subprocess.Popen([sys.executable, LAUNCHER, "-an", "-p", "udp", "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        seen = b""
        while b"Active Connections" not in seen and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 1)[0]:
                seen += os.read(p.stdout.fileno(), 65536)
            assert p.poll() is None, p.stderr.read()
        assert b"Active Connections" in seen
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == Exit.INTERRUPTED, err
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err


def test_unattributed_socket_is_reported_once(sockets):
    """A listener whose only reference is a descriptor in flight (SCM_RIGHTS, sent and never
    received): it exists, has an inode, and no process holds it. -o says so, once."""
    listener = socket.socket()
    listener.bind((V4, 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    a, b = socket.socketpair()
    sockets += [a, b]
    socket.send_fds(a, [b"x"], [listener.fileno()])
    listener.close()
    result = run_inprocess(["-ano", "-p", "tcp"])
    assert ("TCP", f"{V4}:{port}", "0.0.0.0:0", "LISTENING", "-") in parse_table(result.stdout)
    notes = [line for line in result.stderr.splitlines() if "could not be attributed" in line]
    assert len(notes) == 1, result.stderr
    count = int(notes[0].split("pynetstat: ", 1)[1].split()[0])
    assert count >= 1
    doc = run_inprocess(["-ano", "-p", "tcp", "--json"])
    assert doc.stderr.count("could not be attributed") == 1
    assert doc.json()["owner_scan"]["unattributed_sockets"] >= 1
    # Without -o nobody looked for owners: nothing to say.
    assert "attributed" not in run_inprocess(["-an", "-p", "tcp"]).stderr


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_permission_denied_owners_are_reported_once(sockets):
    """Run as nobody (a forked copy of this process): our root-owned sockets cannot be
    attributed, the rows say "-" and stderr says why, once."""
    # A first run imports every module the run needs: after the fork, nobody may not read the
    # interpreter's own tree (here under /root).
    run_inprocess(["-ano", "-p", "tcp"])
    listener = socket.socket()
    listener.bind((V4, 0))
    listener.listen(1)
    sockets.append(listener)
    port = listener.getsockname()[1]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            listener.close()  # the fork's copy: else this very process would own it
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            res = run_inprocess(["-ano", "-p", "tcp"])
            os.write(w, f"{res.status}\0{res.stdout}\0{res.stderr}".encode())
        except BaseException as e:
            os.write(w, f"error\0\0{e!r}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read().decode()
    os.waitpid(pid, 0)
    status, stdout, stderr = data.split("\0")
    assert status == "0", stderr
    assert ("TCP", f"{V4}:{port}", "0.0.0.0:0", "LISTENING", "-") in parse_table(stdout)
    notes = [line for line in stderr.splitlines() if "could not be attributed" in line]
    assert len(notes) == 1, stderr
    assert "permission denied" in notes[0]
