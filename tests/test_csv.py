"""--csv (docs/csv.md) on the live kernel: sockets held by a process with a hostile name
(comma, quote, newline, ESC, invalid UTF-8) printed with --csv and with --json give the same
rows field for field; so do the test's own sockets among the whole machine's (the batch fast
path) and an interface with a hostile name in a network namespace of the test's own; interval
mode writes its header once, then rows with timestamp, pass and, with --changes, a change.
The recorded kernels and the cell rules: tests/test_csv_replay.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import pytest

from pynetstat.textsafe import json_text
from test_csv_replay import (
    assert_rows_equal,
    expected_cell,
    read_csv,
    rebuild_routes,
    strings_as_cells,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(REPO, "src")


def env_for_subprocess() -> dict:
    env = dict(os.environ, PYTHONPATH=SRC, PYNETSTAT_RESOLVE_BUDGET="1")
    env.pop("PYNETSTAT_PROC_ROOT", None)
    env.pop("PYNETSTAT_NETLINK_REPLAY", None)
    return env


def pynetstat(argv: list[str], timeout: float = 60) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "pynetstat", *argv], capture_output=True,
                       timeout=timeout, env=env_for_subprocess(), stdin=subprocess.DEVNULL)
    # Both streams must be valid UTF-8 (strict decoding raises otherwise).
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


# --- a live process with a hostile name ----------------------------------------------------------

CHILD = textwrap.dedent("""
    import socket, sys, time
    with open("/proc/self/comm", "wb") as f:
        f.write(bytes.fromhex(sys.argv[1]))
    held = []
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    c = socket.create_connection(s.getsockname())
    a, _ = s.accept()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1], c.getsockname()[1], u.getsockname()[1]]
    try:
        s6 = socket.socket(socket.AF_INET6)
        s6.bind(("::1", 0))
        s6.listen(1)
        ports.append(s6.getsockname()[1])
    except OSError:
        ports.append(0)
    print(*ports, flush=True)
    time.sleep(120)
""")
# comma, quote, newline, ESC, a byte that is not UTF-8: 15 bytes, all the kernel keeps of a comm
HOSTILE_COMM = b'a,"b\nc\x1b[2J\xffe\xe2\x80\xae'


@pytest.fixture(scope="module")
def hostile_process():
    """A Python copied into a directory with a comma, a quote, a newline, ESC and an invalid byte
    in its name, named (comm) with the same, holding TCP, UDP and TCPv6 sockets."""
    base = tempfile.mkdtemp(prefix="pynetstat-csv-")
    exe_dir = os.path.join(os.fsencode(base), b'd,"ir\n\x1b[31m\xff')
    os.mkdir(exe_dir)
    exe = os.path.join(exe_dir, b"py\x07thon")
    shutil.copy(os.path.realpath(sys.executable), exe)
    env = dict(os.environ, PYTHONHOME=sys.base_prefix)
    p = subprocess.Popen([exe, "-c", CHILD, HOSTILE_COMM.hex(), 'arg,"\n\x1b'], env=env,
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        ports = [int(x) for x in p.stdout.readline().split()]
        yield p.pid, ports, exe
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("argv", [["-ano"], ["-anob"], ["-anobv"], ["-ao"]], ids=" ".join)
def test_live_hostile_process_csv_equals_json(hostile_process, argv):
    pid, (listen, client, udp, listen6), exe = hostile_process
    argv = [*argv, "--pid", str(pid)]
    status, out, err = pynetstat([*argv, "--json"])
    assert status == 0, err
    records = json.loads(out)["connections"]
    status, out, err = pynetstat([*argv, "--csv"])
    assert status == 0, err
    rows = read_csv(out)
    assert_rows_equal(rows, records)
    # the exact sockets the child holds, nothing else
    at = {name: i for i, name in enumerate(rows[0])}
    got = sorted((r[at["proto"]], int(r[at["local_port"]]), r[at["state"]]) for r in rows[1:])
    want = [("tcp", listen, "LISTENING"), ("tcp", client, "ESTABLISHED"), ("udp", udp, "")]
    want += [("tcp", listen, "ESTABLISHED")]  # the accepted end
    if listen6:
        want.append(("tcp6", listen6, "LISTENING"))
    assert got == sorted(want)
    # the hostile name survives the quoting whole: the owners cell is the JSON text of the owners
    for row in rows[1:]:
        assert row[at["pid"]] == str(pid)
        (owner,) = json.loads(row[at["owners"]])
        assert owner["name"] == json_text(HOSTILE_COMM)
        if "b" in argv[0]:
            assert owner["exe"] == json_text(exe)
            assert owner["cmdline"][-1] == 'arg,"\n\x1b'
    assert '"name": "a,\\"b\\nc\\u001b[2J\\\\xffe\\u202e"' in out.replace('""', '"')


def test_plain_rows_are_the_json_rows_of_the_whole_machine():
    """Without a filter, over whatever the machine holds (the batch fast path): the rows of the
    60 sockets this test holds equal JSON's (the rest of the machine may change between the two
    runs)."""
    held = []
    try:
        for _ in range(20):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            c = socket.create_connection(s.getsockname())
            held += [s, c, s.accept()[0]]
        # (local port, remote port) of each socket held: exactly this test's 60 sockets
        ends = {(x.getsockname()[1], x.getpeername()[1] if x is not held[i - i % 3] else 0)
                for i, x in enumerate(held)}
        runs = []
        for fmt in ("--json", "--csv"):
            status, out, err = pynetstat(["-ano", fmt])
            assert status == 0, err
            runs.append(out)
        records = {r["cookie"]: r for r in json.loads(runs[0])["connections"]
                   if r["local_address"] == "127.0.0.1"
                   and (r["local_port"], r["remote_port"]) in ends}
        rows = read_csv(runs[1])
        at = {name: i for i, name in enumerate(rows[0])}
        mine = [row for row in rows[1:] if row[at["local_address"]] == "127.0.0.1"
                and (int(row[at["local_port"]]), int(row[at["remote_port"]])) in ends]
        assert len(mine) == len(records) == 60
        assert_rows_equal([rows[0], *mine], [records[int(row[at["cookie"]])] for row in mine])
        assert all(row[at["pid"]] == str(os.getpid()) for row in mine)
    finally:
        for s in held:
            s.close()


# --- an interface with a hostile name, in a network namespace --------------------------------

NETNS_CHILD = textwrap.dedent("""
    import json, os, socket, subprocess, sys
    ifname = bytes.fromhex(sys.argv[1])
    index = socket.if_nametoindex(os.fsdecode(ifname))
    s = socket.socket(socket.AF_INET6)
    s.bind(("fe80::1", 0, 0, index))
    s.listen(1)
    for argv in (["-an"], ["-r"], ["-rv"], ["-e"]):
        for fmt in ("--json", "--csv"):
            p = subprocess.run([sys.executable, "-m", "pynetstat", *argv, fmt], capture_output=True)
            print(json.dumps([" ".join(argv), fmt, p.stdout.hex(), p.stderr.hex(), p.returncode]))
""")


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
@pytest.mark.skipif(shutil.which("ip") is None, reason="needs ip(8)")
def test_hostile_interface_name_in_cells():
    """An interface named with a comma, a quote, ESC, U+202E and a byte that is not UTF-8 (Linux
    allows them): it is a plain string cell of the connection row (``interface``), of -r and of
    -e, escaped as docs/csv.md says and equal to JSON's."""
    ifname = b'i,"\x1b\xe2\x80\xae\xff'
    ns = f"csv-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        name = os.fsdecode(ifname)
        # no address of the kernel's own (addrgenmode none): the routes must stay as they are
        # between the JSON run and the CSV run
        for cmd in (["link", "add", name, "type", "veth", "peer", "name", "p0"],
                    ["link", "set", name, "addrgenmode", "none"],
                    ["link", "set", "p0", "addrgenmode", "none"],
                    ["link", "set", "lo", "up"], ["link", "set", name, "up"],
                    ["link", "set", "p0", "up"],
                    ["-6", "addr", "add", "fe80::1/64", "dev", name, "nodad"],
                    ["addr", "add", "10.77.0.1/24", "dev", name],
                    ["route", "add", "10.78.0.0/16", "via", "10.77.0.2", "dev", name]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", NETNS_CHILD,
                            ifname.hex()], capture_output=True, timeout=120,
                           env=env_for_subprocess())
        assert p.returncode == 0, p.stderr
        runs = [json.loads(line) for line in p.stdout.decode().splitlines()]
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert len(runs) == 8
    outputs = {}
    for argv, fmt, out, err, status in runs:
        out = bytes.fromhex(out).decode("utf-8")
        assert status == 0, (argv, fmt, bytes.fromhex(err))
        outputs[(argv, fmt)] = out
    cell = 'i,"\\u001b\\u202e\\xff'  # docs/csv.md: JSON's value, its non-printables as JSON writes them
    assert json_text(ifname) == 'i,"\x1b\u202e\\xff'
    rows = read_csv(outputs[("-an", "--csv")])
    records = json.loads(outputs[("-an", "--json")])["connections"]
    assert_rows_equal(rows, records)
    assert [r[rows[0].index("interface")] for r in rows[1:]] == [cell]
    for argv in ("-r", "-rv"):
        rows = read_csv(outputs[(argv, "--csv")])
        doc = json.loads(outputs[(argv, "--json")])["routes"]
        got = rebuild_routes(rows)
        assert got == [strings_as_cells(r) for r in
                       [*(doc["ipv4_routes"] or ()), *(doc["ipv6_routes"] or ())]]
        assert cell in {r[rows[0].index("path_interface")] for r in rows[1:]}
    rows = read_csv(outputs[("-e", "--csv")])
    names = [r[rows[0].index("name")] for r in rows[1:] if r[0] == "interface"]
    json_names = [i["name"] for i in json.loads(outputs[("-e", "--json")])["interfaces"]["interfaces"]]
    assert names == [expected_cell(n) for n in json_names]
    assert cell in names


# --- interval mode ------------------------------------------------------------------------------

def watch(argv: list[str], until, timeout: float = 30.0, prefix: tuple = ()
          ) -> tuple[list[list[str]], str, int]:
    """Run an interval mode until ``until(rows)`` holds for the rows read so far, then Ctrl+C."""
    p = subprocess.Popen([*prefix, sys.executable, "-m", "pynetstat", *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env_for_subprocess(), stdin=subprocess.DEVNULL)
    text = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            text += line
            if until(list(csv.reader(io.StringIO(text.decode(), newline="")))):
                break
    finally:
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=30)
    out = (text + rest).decode("utf-8")
    # a line cut by the signal would be a record that does not parse or is short
    return read_csv(out), err.decode(), p.returncode


def test_interval_one_header_then_rows_with_timestamp_and_pass():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        rows, err, status = watch(["-an", "--csv", "--lport", str(port), "0.2"],
                                  lambda rows: sum(r[1] == "3" for r in rows[1:]) >= 1)
    finally:
        s.close()
    assert status == 130, err
    header = rows[0]
    assert header[:4] == ["timestamp", "pass", "host", "proto"]
    assert all(r != header for r in rows[1:]), "the header is written once"
    passes = [int(r[1]) for r in rows[1:]]
    assert passes[:3] == [1, 2, 3], passes
    stamps = [float(r[0]) for r in rows[1:]]
    assert stamps == sorted(stamps) and abs(stamps[0] - time.time()) < 60
    assert {r[2] for r in rows[1:]} == {socket.gethostname()}
    at = {name: i for i, name in enumerate(header)}
    assert all((r[at["local_port"]], r[at["state"]]) == (str(port), "LISTENING") for r in rows[1:])


def test_interval_changes_rows_have_a_change_column():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    held = [s]

    def until(rows):
        if len(rows) == 2 and len(held) == 1:  # the first display came: now a connection
            c = socket.create_connection(("127.0.0.1", port))
            held.extend([c, s.accept()[0]])
        return sum(r[3] == "added" for r in rows[1:]) >= 2

    try:
        # the states too: a TIME_WAIT left by an earlier test whose ephemeral port was this one
        # came in the first display (seen in a full run)
        rows, err, status = watch(["-an", "--csv", "--changes", "--port", str(port), "--state",
                                   "listen,established", "0.2"], until)
    finally:
        for x in held:
            x.close()
    assert status == 130, err
    header = rows[0]
    assert header[:6] == ["timestamp", "pass", "host", "change", "previous_state", "proto"]
    assert all(r != header for r in rows[1:])
    at = {name: i for i, name in enumerate(header)}
    first, later = rows[1], rows[2:]
    assert (first[1], first[3], first[at["state"]]) == ("1", "", "LISTENING")
    assert sorted((r[3], r[at["state"]]) for r in later) == [("added", "ESTABLISHED")] * 2
    assert all(int(r[1]) > 1 for r in later)


def test_interval_sections_header_once():
    rows, err, status = watch(["-s", "-p", "udp", "--csv", "0.2"],
                              lambda rows: any(r[1] == "2" for r in rows[1:]))
    assert status == 130, err
    assert rows[0] == ["timestamp", "pass", "host", "section", "available", "kernel", "counter",
                       "value", "received", "sent"]
    assert rows[0] not in rows[1:]
    assert {r[3] for r in rows[1:]} == {"udpv4"}


def test_interval_counter_changes():
    """-s --changes: the first display lists the counters, one a row, change empty; later rows
    are the counters that moved, with their delta (datagrams the test sends between passes)."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def until(rows):
        sender.sendto(b"x", sink.getsockname())
        return any(r[3] == "moved" and r[5] == "Udp.OutDatagrams" for r in rows[1:])

    try:
        rows, err, status = watch(["-s", "-p", "udp", "--csv", "--changes", "0.2"], until)
    finally:
        sender.close()
        sink.close()
    assert status == 130, err
    assert rows[0] == ["timestamp", "pass", "host", "change", "view", "name", "value", "previous",
                       "delta", "rate"]
    assert rows[0] not in rows[1:]
    first = [r for r in rows[1:] if r[1] == "1"]
    assert first and all(r[3] == "" and r[4] == "statistics" and r[7:] == ["", "", ""]
                         for r in first)
    assert "Udp.OutDatagrams" in {r[5] for r in first}
    moved = [r for r in rows[1:] if r[3] == "moved" and r[5] == "Udp.OutDatagrams"]
    for r in moved:
        assert int(r[6]) - int(r[7]) == int(r[8]) > 0 and float(r[9]) > 0


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
@pytest.mark.skipif(shutil.which("ip") is None, reason="needs ip(8)")
def test_interval_route_changes_in_a_netns():
    """-r --changes in a network namespace of the test's own: a route added after the first
    display is a row with change ``added`` and the route's columns."""
    ns = f"csv-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    added = []

    def until(rows):
        if len(rows) >= 2 and not added:
            subprocess.run(["ip", "-n", ns, "route", "add", "10.79.0.0/16", "via", "10.77.0.2"],
                           check=True)
            added.append(True)
        return any(r[3] == "added" for r in rows[1:])

    try:
        for cmd in (["link", "add", "v0", "type", "veth", "peer", "name", "p0"],
                    ["link", "set", "v0", "up"], ["link", "set", "p0", "up"],
                    ["addr", "add", "10.77.0.1/24", "dev", "v0"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        rows, err, status = watch(["-r", "--csv", "--changes", "0.2"], until,
                                  prefix=("ip", "netns", "exec", ns))
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert status == 130, err
    header = rows[0]
    assert header[:5] == ["timestamp", "pass", "host", "change", "route"]
    at = {name: i for i, name in enumerate(header)}
    first = [r for r in rows[1:] if r[1] == "1"]
    assert [(r[3], r[at["destination"]], r[at["path_interface"]]) for r in first
            if r[at["family"]] == "4"] == [("", "10.77.0.0", "v0")]
    later = [r for r in rows[1:] if r[1] != "1"]
    assert [(r[3], r[at["route"]], r[at["destination"]], r[at["prefix_length"]],
             r[at["path_gateway"]], r[at["path_interface"]]) for r in later] == [
        ("added", "1", "10.79.0.0", "16", "10.77.0.2", "v0")]
