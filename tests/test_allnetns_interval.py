"""--all-netns with an interval, --changes and --csv, live (issue 15; docs/netns.md).

Each scene runs in a child of its own PID and mount namespaces (``unshare --pid --mount
--fork --mount-proc``) with a fresh tmpfs on /run/netns: pynetstat's discovery, which walks
/proc and the mount table, then finds the host's namespace and the scene's alone, not the other
namespaces of a shared machine (which come and go under other people's tests). The scene's
namespaces die with the child, whatever happens.

The scene: two namespaces, ``ip netns add`` (``k15a``, its listener held by a process that
``ip netns exec`` started) and ``unshare --net`` (its listener held by the process that holds
it), each with a TCP listener on the same port P of 127.0.0.1, and an empty ``ip netns``
namespace (``k15gone``). pynetstat runs with an interval; between passes the scene opens a
connection to P in ``k15a``, deletes ``k15gone`` and adds ``k15new``. The oracle is ss inside
each namespace (``ip netns exec NS ss``, ``nsenter --net=/proc/PID/ns/net ss``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from test_csv_replay import assert_rows_equal, read_csv

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make namespaces"),
    pytest.mark.skipif(not all(shutil.which(tool) for tool in ("ip", "ss", "unshare", "nsenter")),
                       reason="needs ip, ss, unshare and nsenter"),
]

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

# Run by the child (PID 1 of its PID namespace): argv[1] the pynetstat options as JSON,
# argv[2] the port, argv[3] what to do between passes, argv[4] once-mode runs to make after
# (JSON: a list of option lists); prints one JSON object: what pynetstat printed, the scene.
SCENE = r"""
import json, os, signal, subprocess, sys, tempfile, threading, time

argv, port, steps, after = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
prefix = json.loads(os.environ["K15_PREFIX"])
# this mount namespace's copies of the machine's namespace mounts go (ours alone)
with open("/proc/self/mountinfo") as f:
    points = [line.split()[4] for line in f if " - nsfs " in line]
for point in reversed(points):
    subprocess.run(["umount", "-l", point.replace("\\040", " ")], check=True)
os.makedirs("/run/netns", exist_ok=True)
subprocess.run(["mount", "-t", "tmpfs", "k15", "/run/netns"], check=True)
SERVE = ("import socket, sys, time\n"
         "srv = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
         "print('ready', flush=True)\n"
         "time.sleep(600)\n")
CLIENT = ("import socket, sys, time\n"
          "c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
          "print(c.getsockname()[1], flush=True)\n"
          "time.sleep(600)\n")
procs = []

def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    procs.append(p)
    return p, p.stdout.readline().strip()

def ns_inode(path):
    return os.stat(path).st_ino

def ss(prefix):
    return subprocess.run([*prefix, "ss", "-Htan", f"( sport = :{port} or dport = :{port} )"],
                          capture_output=True, text=True, check=True).stdout

for name in ("k15a", "k15gone"):
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
start(["ip", "netns", "exec", "k15a", sys.executable, "-c", SERVE, port])
holder, _ = start(["unshare", "--net", "sh", "-c",
                   f'ip link set lo up && exec {sys.executable} -c "$0" {port}', SERVE])
inodes = {"host": ns_inode("/proc/self/ns/net"), "k15a": ns_inode("/run/netns/k15a"),
          "k15gone": ns_inode("/run/netns/k15gone"),
          "unshared": ns_inode(f"/proc/{holder.pid}/ns/net")}
oracle = {"k15a": ["ip", "netns", "exec", "k15a"],
          "unshared": ["nsenter", f"--net=/proc/{holder.pid}/ns/net"]}
scene = {"inodes": inodes, "ss_before": {k: ss(v) for k, v in oracle.items()}}

fd, log = tempfile.mkstemp(prefix="k15-passes-")
os.close(fd)
os.chmod(log, 0o666)
env = dict(os.environ, PYTHONPATH=os.environ["K15_SRC"], PYNETSTAT_RESOLVE_BUDGET="1",
           PYNETSTAT_PASS_TIMES=log)
tool = subprocess.Popen([*prefix, "-m", "pynetstat", *argv], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, env=env)
out, err = [], []
threading.Thread(target=lambda: out.append(tool.stdout.read()), daemon=True).start()
threading.Thread(target=lambda: err.append(tool.stderr.read()), daemon=True).start()

def passes():
    with open(log) as f:
        return f.read().count("\n")

def wait(n, what):
    deadline = time.monotonic() + 120
    while passes() < n:
        if tool.poll() is not None:
            time.sleep(0.5)
            raise SystemExit(f"pynetstat ended ({tool.returncode}): {err}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)

wait(2, "two passes")
if steps == "changes":
    client, client_port = start(["ip", "netns", "exec", "k15a", sys.executable, "-c", CLIENT,
                                 port])
    scene["client_port"] = int(client_port)
    scene["ss_after"] = {k: ss(v) for k, v in oracle.items()}
    # a pass that began after the connection was made has ended
    wait(passes() + 2, "the connection's pass")
    subprocess.run(["ip", "netns", "del", "k15gone"], check=True)
    subprocess.run(["ip", "netns", "add", "k15new"], check=True)
    inodes["k15new"] = ns_inode("/run/netns/k15new")
    wait(passes() + 2, "the namespaces' pass")
elif steps == "more":
    wait(4, "four passes")
tool.send_signal(signal.SIGINT)
tool.wait(timeout=60)
while len(out) + len(err) < 2:
    time.sleep(0.01)
with open(log) as f:
    pass_log = [json.loads(line) for line in f]
scene.update(status=tool.returncode, out=out[0].decode(), err=err[0].decode(),
             passes=len(pass_log), pass_log=pass_log)
scene["once"] = [subprocess.run([*prefix, "-m", "pynetstat", *args], capture_output=True,
                                env=env).stdout.decode() for args in after]
for p in procs:
    p.kill()
os.unlink(log)
print(json.dumps(scene))
"""
UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/python3"]  # the venv's interpreter is under /root, closed to 65534


def run_scene(argv: list[str], steps: str = "passes", prefix: list[str] | None = None,
              after: list[list[str]] = ()) -> dict:
    """The scene with ``pynetstat ARGV`` running (``PORT`` in ARGV: the scene's port);
    ``steps``: "passes" (two passes, then Ctrl+C), "more" (four), or "changes" (a connection
    made, then a namespace deleted and one added, each followed by two passes); ``after``:
    single runs made in the same scene after that (their stdout in ``once``)."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]  # free on the host's loopback; the new namespaces are empty
    probe.close()
    argv = [arg.replace("PORT", str(port)) for arg in argv]
    after = [[arg.replace("PORT", str(port)) for arg in args] for args in after]
    env = dict(os.environ, K15_SRC=SRC, K15_PREFIX=json.dumps(prefix or [sys.executable]))
    p = subprocess.run(["unshare", "--pid", "--mount", "--fork", "--mount-proc",
                        "--propagation", "private", sys.executable, "-c", SCENE,
                        json.dumps(argv), str(port), steps, json.dumps(after)],
                       capture_output=True, text=True, env=env, timeout=400)
    assert p.returncode == 0, p.stderr[-3000:]
    scene = json.loads(p.stdout)
    assert scene["status"] == 130, scene["err"]
    scene["port"] = port
    return scene


def ss_rows(text: str) -> set[tuple[str, str, str]]:
    """ss -Htan lines as (state as pynetstat names it, local, foreign)."""
    names = {"LISTEN": "LISTENING", "ESTAB": "ESTABLISHED"}
    out = set()
    for line in text.splitlines():
        state, _rq, _sq, local, peer = line.split()[:5]
        out.add((names.get(state, state), local, peer.replace("*", "0")))
    return out


def json_lines(out: str) -> list[dict]:
    """The records; the last line is left out when Ctrl+C cut it (a pass that outlasts the half
    second a signal waits for a line: docs/interval.md, Stopping)."""
    lines = out.splitlines()
    if lines and not out.endswith("\n"):
        lines.pop()
    return [json.loads(line) for line in lines]


def row_key(row: dict) -> tuple[str, str, str]:
    return (row["state"], f"{row['local_address']}:{row['local_port']}",
            f"{row['remote_address']}:{row['remote_port']}")


# the states too: a TIME_WAIT of another test on the same ephemeral port in the host's namespace
# can come and go as a row of its own (a full run once saw the text scene fail so)
LISTING = ["--all-netns", "-an", "-p", "tcp", "--port", "PORT", "--state", "listen,established"]


def test_every_pass_lists_each_namespace_equal_to_ss():
    """Whole displays (JSON Lines, every pass): the listener on the same port in two
    namespaces, each row with its own namespace, equal to ss run inside each; none in the
    host's; every namespace of the scene read, through netlink."""
    scene = run_scene([*LISTING, "--json", "0.2"])
    inodes, port = scene["inodes"], scene["port"]
    displays = json_lines(scene["out"])
    assert len(displays) >= 2 and {d["type"] for d in displays} == {"display"}
    for display in displays:
        by_ns: dict[str, set] = {}
        for row in display["connections"]:
            by_ns.setdefault(row["netns"]["label"], set()).add(row_key(row))
        assert by_ns == {"k15a": ss_rows(scene["ss_before"]["k15a"]),
                         str(inodes["unshared"]): ss_rows(scene["ss_before"]["unshared"])}
        assert by_ns["k15a"] == {("LISTENING", f"127.0.0.1:{port}", "0.0.0.0:0")}
        read = {p["netns"]["inode"]: p["source"] for p in display["namespaces"]}
        assert read == {inodes[k]: "netlink" for k in ("host", "k15a", "k15gone", "unshared")}
    assert scene["err"] == ""


def test_changes_keyed_by_namespace_in_json_lines():
    """--changes --json: the first display, then a connection opened in k15a between passes is
    ``+`` twice (its two ends), both labelled k15a, none in the other namespace (whose
    listener is on the same port); k15gone deleted is a ``netns`` record ``removed``, k15new a
    ``netns`` record ``added``, k15gone's first. Each change is said once."""
    scene = run_scene([*LISTING, "--json", "--changes", "0.2"], "changes")
    inodes, port, client = scene["inodes"], scene["port"], scene["client_port"]
    records = json_lines(scene["out"])
    assert [r["type"] for r in records[:1]] == ["display"]
    changes = [(r["mark"], r["connection"]["netns"]["label"], row_key(r["connection"]))
               for r in records[1:] if r["type"] == "connection"]
    ends = {("ESTABLISHED", f"127.0.0.1:{client}", f"127.0.0.1:{port}"),
            ("ESTABLISHED", f"127.0.0.1:{port}", f"127.0.0.1:{client}")}
    assert sorted(changes) == sorted(("+", "k15a", end) for end in ends)
    listener = ("LISTENING", f"127.0.0.1:{port}", "0.0.0.0:0")
    assert ss_rows(scene["ss_after"]["k15a"]) == ends | {listener}
    assert ss_rows(scene["ss_after"]["unshared"]) == {listener}
    spaces = [(r["mark"], r["change"], r["netns"]["inode"], r["netns"]["label"])
              for r in records if r["type"] == "netns"]
    assert spaces == [("-", "removed", inodes["k15gone"], "k15gone"),
                      ("+", "added", inodes["k15new"], "k15new")]
    assert {r["type"] for r in records[1:]} == {"connection", "netns"}
    for r in records[1:]:
        assert list(r)[:7] == ["schema_version", "type", "timestamp", "pass", "host", "change",
                               "mark"]


def test_changes_in_text():
    """--changes as text: the Namespace column on every change line, the two new ends in k15a
    only, and a line for the namespace gone and for the new one."""
    scene = run_scene([*LISTING, "--changes", "0.2"], "changes")
    inodes, port, client = scene["inodes"], scene["port"], scene["client_port"]
    first, _, after = scene["out"].partition("Changes every 0.2 s")
    unshared = str(inodes["unshared"])
    assert sorted(line.split()[:5] for line in first.splitlines() if f":{port} " in line) == sorted([
        ["k15a", "TCP", f"127.0.0.1:{port}", "0.0.0.0:0", "LISTENING"],
        [unshared, "TCP", f"127.0.0.1:{port}", "0.0.0.0:0", "LISTENING"]])
    heading, *lines = [line for line in after.splitlines()[1:] if line.strip()]
    assert heading.split() == ["Time", "Namespace", "Proto", "Local", "Address", "Foreign",
                               "Address", "State"]
    changes = [line.split()[1:] for line in lines]
    assert sorted(changes) == sorted([
        ["+", "k15a", "TCP", f"127.0.0.1:{client}", f"127.0.0.1:{port}", "ESTABLISHED"],
        ["+", "k15a", "TCP", f"127.0.0.1:{port}", f"127.0.0.1:{client}", "ESTABLISHED"],
        ["-", "netns", str(inodes["k15gone"]), "(k15gone)"],
        ["+", "netns", str(inodes["k15new"]), "(k15new)"]])
    assert [c[2] for c in changes if c[1] == "netns"] == [str(inodes["k15gone"]),
                                                          str(inodes["k15new"])]


def flat_netns(record: dict) -> dict:
    """A JSON row with its ``netns`` object as CSV spreads it (docs/csv.md)."""
    record = dict(record)
    ns = record.pop("netns")
    container, pod = ns["container"] or {}, ns["pod"] or {}
    return {**record, "netns_inode": ns["inode"], "netns_label": ns["label"],
            "netns_name": ns["name"], "netns_container_id": container.get("id"),
            "netns_container_runtime": container.get("runtime"),
            "netns_container_name": container.get("name"), "netns_pod_uid": pod.get("uid"),
            "netns_pod_name": pod.get("name")}


def test_csv_rows_equal_the_json_rows():
    """--csv with an interval: the header once, and each pass's rows, after timestamp, pass and
    host, the rows of --json of the same scene field for field, the namespace in the netns_
    columns; a single run's --csv, the same."""
    # the states too: a TIME_WAIT of another test (or bench) in the host's namespace on the
    # same ephemeral port came in as a "host" row (seen in a CI dry run under load)
    once = ["--all-netns", "-ano", "-p", "tcp", "--port", "PORT", "--state", "listen,established"]
    scene = run_scene([*once, "--csv", "0.2"], "more",
                      after=[[*once, "--json"], [*once, "--csv"]])
    records = [flat_netns(r) for r in json.loads(scene["once"][0])["connections"]]
    assert sorted(r["netns_label"] for r in records) == sorted(
        ["k15a", str(scene["inodes"]["unshared"])])
    assert_rows_equal(read_csv(scene["once"][1]), records)
    rows = read_csv(scene["out"])
    header = rows[0]
    assert header[:3] == ["timestamp", "pass", "host"]
    assert header[-8:] == ["netns_inode", "netns_label", "netns_name", "netns_container_id",
                           "netns_container_runtime", "netns_container_name", "netns_pod_uid",
                           "netns_pod_name"]
    by_pass: dict[str, list] = {}
    for row in rows[1:]:
        by_pass.setdefault(row[1], []).append(row)
    assert len(by_pass) >= 4
    for number in sorted(by_pass, key=int)[:-1]:  # the last may be cut by Ctrl+C
        assert_rows_equal([header, *by_pass[number]], records, lead=3)
    # the owners were kept from pass to pass (one lookup for every namespace's sockets), and
    # still equal a single run's
    assert [p["owners"] for p in scene["pass_log"][:3]] == ["walk", "reused", "reused"]
    assert all(p["namespaces"] == 4 for p in scene["pass_log"])


def test_unreadable_namespaces_said_once():
    """Without CAP_SYS_ADMIN (as uid 65534): the namespaces it may not enter, and whose
    processes' /proc/PID/net it may not read, are each said once on stderr over four passes,
    not at every pass; what it can read is still listed every pass."""
    scene = run_scene(["--all-netns", "-an", "-p", "tcp", "--json", "0.2"], "more",
                      prefix=UNPRIVILEGED)
    inodes = scene["inodes"]
    err = scene["err"].splitlines()
    assert scene["passes"] >= 4
    for name in ("k15a", "k15gone"):
        said = [line for line in err if f"network namespace {inodes[name]} ({name}) could not "
                "be read" in line]
        assert len(said) == 1, err
    displays = json_lines(scene["out"])
    assert len(displays) >= 4
    for display in displays:
        unread = {u["netns"]["inode"] for u in display["unread_namespaces"]}
        assert {inodes["k15a"], inodes["k15gone"]} <= unread


def test_sections_every_pass_one_line_per_namespace():
    """-s with an interval: every pass, one JSON line per namespace with the pass's envelope
    and its ``netns``, the scene's four namespaces each once."""
    scene = run_scene(["--all-netns", "-s", "-p", "tcp", "--json", "0.2"])
    inodes = scene["inodes"]
    by_pass: dict[int, list[int]] = {}
    for doc in json_lines(scene["out"]):
        assert doc["type"] == "display" and "statistics" in doc
        by_pass.setdefault(doc["pass"], []).append(doc["netns"]["inode"])
    assert len(by_pass) >= 2
    for number in sorted(by_pass)[:-1]:  # the last may be cut by Ctrl+C
        assert sorted(by_pass[number]) == sorted(inodes[k] for k in ("host", "k15a", "k15gone",
                                                                     "unshared"))


def test_csv_changes_carry_the_namespace():
    """--csv --changes: the rows of the new connection (``added``) carry k15a in their netns_
    columns; a namespace gone or new has no row (one table) and is said on stderr, once."""
    scene = run_scene(["--all-netns", "-an", "-p", "tcp", "--port", "PORT", "--csv",
                       "--changes", "0.2"], "changes")
    inodes, port, client = scene["inodes"], scene["port"], scene["client_port"]
    rows = read_csv(scene["out"])
    at = {name: i for i, name in enumerate(rows[0])}
    assert rows[0][:5] == ["timestamp", "pass", "host", "change", "previous_state"]
    changed = sorted((r[at["change"]], r[at["netns_label"]], int(r[at["netns_inode"]]),
                      int(r[at["local_port"]]), int(r[at["remote_port"]]))
                     for r in rows[1:] if r[at["change"]])
    assert changed == sorted([("added", "k15a", inodes["k15a"], client, port),
                              ("added", "k15a", inodes["k15a"], port, client)])
    assert scene["err"].splitlines() == [
        f"pynetstat: network namespace {inodes['k15gone']} (k15gone) went away",
        f"pynetstat: network namespace {inodes['k15new']} (k15new) appeared"]


def counter_moves(records: list[dict], label: str) -> dict[str, int]:
    """name -> the sum of its deltas over the ``counter`` records of namespace ``label``."""
    out: dict[str, int] = {}
    for r in records:
        if r["type"] == "counter" and r["netns"]["label"] == label and r["change"] == "moved":
            out[r["name"]] = out.get(r["name"], 0) + r["delta"]
    return out


def test_section_changes_per_namespace_in_json_lines():
    """-s --changes --all-netns: every namespace's whole sections at the first pass (one line
    each), then each counter that moved, labelled with its namespace: the connection opened in
    k15a is one active and one passive open there (a fresh namespace: the values are 1), none
    in the other namespace with a listener on the same port; the namespace gone and the one
    added are ``netns`` records, and the new one's counters are not all "new"."""
    scene = run_scene(["--all-netns", "-s", "-p", "tcp", "--json", "--changes", "0.2"],
                      "changes")
    inodes = scene["inodes"]
    records = json_lines(scene["out"])
    first = [r for r in records if r["type"] == "display"]
    assert sorted(r["netns"]["inode"] for r in first) == sorted(
        inodes[k] for k in ("host", "k15a", "k15gone", "unshared"))
    assert {r["pass"] for r in first} == {1}
    moved = counter_moves(records, "k15a")
    assert moved["Tcp.ActiveOpens"] == 1 and moved["Tcp.PassiveOpens"] == 1
    opens = [r for r in records if r["type"] == "counter" and r["name"] == "Tcp.ActiveOpens"
             and r["netns"]["label"] == "k15a"]
    assert [(r["previous"], r["value"]) for r in opens] == [(0, 1)]
    assert "Tcp.ActiveOpens" not in counter_moves(records, str(inodes["unshared"]))
    assert not [r for r in records if r["type"] == "counter"
                and r["netns"]["inode"] in (inodes["k15gone"], inodes["k15new"])]
    spaces = [(r["change"], r["netns"]["inode"]) for r in records if r["type"] == "netns"]
    assert spaces == [("removed", inodes["k15gone"]), ("added", inodes["k15new"])]


def test_section_changes_per_namespace_in_text():
    """The same as text: a Namespace column before the counter on every change line."""
    scene = run_scene(["--all-netns", "-s", "-p", "tcp", "--changes", "0.2"], "changes")
    _first, _, after = scene["out"].partition("Changes every 0.2 s")
    heading, *lines = [line for line in after.splitlines()[1:] if line.strip()]
    assert heading.split() == ["Time", "Namespace", "Counter", "Delta", "Rate/s", "Value"]
    k15a = [line.split()[1:] for line in lines if line.split()[2:3] == ["k15a"]]
    opens = [cells for cells in k15a if cells[2] in ("Tcp.ActiveOpens", "Tcp.PassiveOpens")]
    assert sorted((c[0], c[2], c[3], c[5]) for c in opens) == [
        ("~", "Tcp.ActiveOpens", "+1", "1"), ("~", "Tcp.PassiveOpens", "+1", "1")]


def test_section_csv_one_header_every_namespace():
    """-e --csv --all-netns, once and with --changes: one header for the stream ending with the
    netns_ columns, each namespace's rows with its own; with --changes the counters that moved
    in k15a (its loopback carried the new connection) labelled k15a."""
    scene = run_scene(["--all-netns", "-s", "-p", "tcp", "--csv", "--changes", "0.2"],
                      "changes", after=[["--all-netns", "-e", "--csv"]])
    inodes = scene["inodes"]
    once = read_csv(scene["once"][0])
    header = once[0]
    assert header[-8:] == ["netns_inode", "netns_label", "netns_name", "netns_container_id",
                           "netns_container_runtime", "netns_container_name", "netns_pod_uid",
                           "netns_pod_name"]
    assert [row for row in once if row[:1] == ["row"]] == [header]  # one header
    at = {name: i for i, name in enumerate(header)}
    loopbacks = {(row[at["netns_label"]], int(row[at["netns_inode"]])) for row in once[1:]
                 if row[at["row"]] == "interface" and row[at["name"]] == "lo"}
    unshared = str(inodes["unshared"])
    # (the single run comes after the scene deleted k15gone and added k15new)
    assert {("k15a", inodes["k15a"]), ("k15new", inodes["k15new"]),
            (unshared, inodes["unshared"])} <= loopbacks
    assert all(len(row) == len(header) for row in once)
    rows = read_csv(scene["out"])
    at = {name: i for i, name in enumerate(rows[0])}
    assert rows[0][:4] == ["timestamp", "pass", "host", "change"]
    assert rows[0][-8:] == header[-8:]
    assert [row for row in rows if row[:1] == ["timestamp"]] == [rows[0]]
    opened = [(row[at["change"]], row[at["delta"]], row[at["value"]]) for row in rows[1:]
              if row[at["netns_label"]] == "k15a" and row[at["name"]] == "Tcp.ActiveOpens"
              and row[at["change"]]]
    assert opened == [("moved", "1", "1")]
    assert all(len(row) == len(rows[0]) for row in rows)
