"""Filters through the command line (issue 14), in a network namespace the test makes.

The scene of tests/filter_scene.py (listeners, connections, UDP sockets on chosen addresses,
ports, states, devices and uids), plus processes of chosen names, uids, systemd unit and
container (cgroups the test makes) holding sockets of their own. For every option, negations
and combinations, ``pynetstat --json`` with the filter gives exactly the rows of the
unfiltered ``--json`` that a plain Python predicate written here keeps; where ss has the same
expression, the TCP rows equal ss's. A filter with no match prints the header alone (exit 0); a
malformed value is one line on stderr (exit 2). Interval mode filters every pass.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import shutil
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from filter_scene import OTHER_UID, Netns, Scene, holds
from helpers import run_inprocess

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]

STATE = {"ESTABLISHED": 1, "SYN_SENT": 2, "SYN_RECV": 3, "FIN_WAIT1": 4, "FIN_WAIT2": 5,
         "TIME_WAIT": 6, "CLOSE": 7, "CLOSE_WAIT": 8, "LAST_ACK": 9, "LISTEN": 10, "CLOSING": 11,
         "NEW_SYN_RECV": 12}
CGROUPS = "/sys/fs/cgroup/systemd"  # a v1 name=systemd hierarchy, where a test may make groups
UNIT = "fltunit-w1.service"
CONTAINER_ID = "f1c7e2" + "ab" * 29
CONTAINER = f"docker-{CONTAINER_ID}.scope"

# A process that names itself, listens and connects to itself on a port, drops to a uid, and
# waits until its stdin closes.
CHILD = r"""
import os, socket, sys
name, port, uid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open("/proc/self/comm", "w") as f:
    f.write(name)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(4)
client = socket.create_connection(("127.0.0.1", port))
server, _ = listener.accept()
if uid:
    os.setresuid(uid, uid, uid)
print("ready", flush=True)
sys.stdin.read()
"""
# name, port, uid, cgroup (under CGROUPS) or None
CHILDREN = [("fltalpha", 6001, 0, None), ("fltbeta", 6002, OTHER_UID, None),
            ("fltgamma", 6003, 0, UNIT), ("fltdelta", 6004, 0, CONTAINER)]


class World:
    def __init__(self) -> None:
        self.netns = Netns()
        self.children: list[subprocess.Popen] = []
        self.groups: list[str] = []
        with self.netns.inside():
            self.scene = Scene()
            for name, port, uid, group in CHILDREN:
                child = subprocess.Popen([sys.executable, "-c", CHILD, name, str(port), str(uid)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                self.children.append(child)
                assert child.stdout.readline() == "ready\n"
                if group is not None:
                    self.place(child.pid, group)
        self.pids = {name: child.pid for (name, *_), child in zip(CHILDREN, self.children)}

    def place(self, pid: int, group: str) -> None:
        path = os.path.join(CGROUPS, group)
        os.makedirs(path, exist_ok=True)
        self.groups.append(path)
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def run(self, argv: list[str], **how):
        with self.netns.inside():
            return run_inprocess(argv, **how)

    def close(self) -> None:
        for child in self.children:
            child.stdin.close()
            child.wait(10)
        for path in self.groups:
            os.rmdir(path)
        with self.netns.inside():
            self.scene.close()
        self.netns.close()


@pytest.fixture(scope="module")
def world():
    if not os.access(os.path.join(CGROUPS, "cgroup.procs"), os.W_OK):
        pytest.skip(f"{CGROUPS} is not a cgroup hierarchy we may write")
    world = World()
    # The closed connections settle once their FINs are acknowledged.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and {"FIN_WAIT1", "LAST_ACK"} & {
            r["kernel_state"] for r in world.run(["-an", "--json"]).json()["connections"]}:
        time.sleep(0.02)
    yield world
    world.close()


# --- the plain predicate over JSON rows --------------------------------------------------------------
def as_socket(row: dict, links) -> SimpleNamespace:
    """A JSON row as filter_scene.holds wants a socket."""
    return SimpleNamespace(state=STATE[row["kernel_state"]], local_address=row["local_address"],
                           local_port=row["local_port"], remote_address=row["remote_address"],
                           remote_port=row["remote_port"], uid=row["uid"],
                           scope=links[row["interface"]][0] if row["interface"] else 0)


def process_names(pid: int) -> set[str]:
    """comm and the executable's file name, read here from /proc."""
    with open(f"/proc/{pid}/comm") as f:
        names = {f.read().rstrip("\n")}
    try:
        names.add(os.path.basename(os.readlink(f"/proc/{pid}/exe")))
    except OSError:
        pass
    return names


def owner_holds(row: dict, condition, world: World) -> bool:
    kind, _end, items, negated = condition
    pids = [owner["pid"] for owner in row["owners"] or ()]
    if kind == "pid":
        hit = any(str(pid) in items for pid in pids)
    elif kind == "process":
        hit = any(fnmatch.fnmatchcase(name, item) for pid in pids
                  for name in process_names(pid) for item in items)
    else:  # unit, container: the children the test put in those cgroups
        placed = {world.pids["fltgamma"]} if kind == "unit" else {world.pids["fltdelta"]}
        wanted = {"unit": {UNIT, "fltunit-*"},
                  "container": {f"docker:{CONTAINER_ID[:12]}", CONTAINER_ID[:6], "docker:*"}}
        assert set(items) <= wanted[kind], items
        hit = any(pid in placed for pid in pids)
    return hit != negated


def keeps(row: dict, conditions, world: World) -> bool:
    links = world.scene.links
    for condition in conditions:
        if condition[0] in ("pid", "process", "unit", "container"):
            if not owner_holds(row, condition, world):
                return False
        elif not holds(as_socket(row, links), condition, links):
            return False
    return True


def key(row: dict) -> tuple:
    return (row["proto"], row["local_address"], row["local_port"], row["remote_address"],
            row["remote_port"], row["kernel_state"], row["uid"], row["cookie"],
            tuple(owner["pid"] for owner in row["owners"] or ()))


OPTION = {("state", None): "state", ("port", "either"): "port", ("port", "local"): "lport",
          ("port", "remote"): "rport", ("addr", "either"): "addr", ("addr", "local"): "local",
          ("addr", "remote"): "remote", ("interface", None): "interface", ("user", None): "user",
          ("pid", None): "pid", ("process", None): "process", ("unit", None): "unit",
          ("container", None): "container"}


def argv_of(conditions) -> list[str]:
    out = []
    for kind, end, items, negated in conditions:
        out += [f"--{OPTION[kind, end]}", ("!" if negated else "") + ",".join(items)]
    return out


def check(world: World, conditions, base=("-ano",), unfiltered=None) -> list[dict]:
    """The filtered run's rows equal the unfiltered run's (``unfiltered`` flags, else ``base``)
    rows the predicate keeps (asked again when a socket came or went between the runs: TIME_WAIT
    expires). The kept rows."""
    unfiltered = unfiltered or base
    for _attempt in range(3):
        before = world.run([*unfiltered, "--json"])
        result = world.run([*base, "--json", *argv_of(conditions)])
        after = world.run([*unfiltered, "--json"])
        everything = sorted(map(key, before.json()["connections"]))
        if everything == sorted(map(key, after.json()["connections"])):
            break
    assert (result.status, result.err) == (0, ""), result
    want = sorted(key(r) for r in before.json()["connections"] if keeps(r, conditions, world))
    got = sorted(map(key, result.json()["connections"]))
    assert got == want, conditions
    return result.json()["connections"]


def test_the_scene_has_what_the_cases_need(world):
    rows = check(world, [])
    names = {o["name"] for r in rows for o in r["owners"]}
    assert {"fltalpha", "fltbeta", "fltgamma", "fltdelta"} <= names
    assert {r["uid"] for r in rows} == {0, OTHER_UID, None}
    assert {r["kernel_state"] for r in rows} >= {"LISTEN", "ESTABLISHED", "TIME_WAIT", "SYN_SENT",
                                                  "CLOSE_WAIT", "FIN_WAIT2", "CLOSE"}


SOCKET_CASES = [
    [("state", None, ["listening"], False)],
    [("state", None, ["connected"], False)],
    [("state", None, ["time-wait", "close-wait"], False)],
    [("state", None, ["listening"], True)],
    [("port", "either", ["8080"], False)],
    [("port", "either", ["8080"], True)],
    [("port", "either", ["https", "6001-6002"], False)],
    [("port", "local", ["8000-8099"], False)],
    [("port", "remote", ["40000-40010", "443"], False)],
    [("addr", "either", ["127.0.0.1"], False)],
    [("addr", "local", ["127.0.0.0/8"], True)],
    [("addr", "remote", ["::ffff:127.0.0.1"], False)],
    [("addr", "local", ["::/0"], False)],
    [("addr", "either", ["fe80::/64%v0"], False)],
    [("interface", None, ["v0"], False)],
    [("interface", None, ["lo"], False)],
    [("interface", None, ["lo"], True)],
    [("user", None, [str(OTHER_UID)], False)],
    [("user", None, ["root"], True)],
    [("user", None, ["root"], False), ("state", None, ["listening"], False)],
    [("state", None, ["connected"], False), ("port", "either", ["8080", "8081"], False)],
    [("port", "local", ["8080"], False), ("port", "remote", ["40001"], False)],
    [("port", "either", ["9000"], False), ("addr", "either", ["127.0.0.1"], True)],
    [("state", None, ["listening"], True), ("addr", "remote", ["127.0.0.0/8"], False),
     ("user", None, ["root"], False)],
]


@pytest.mark.parametrize("conditions", SOCKET_CASES, ids=lambda c: " ".join(argv_of(c)))
def test_socket_filters_equal_the_plain_predicate(world, conditions):
    # -an: the unfiltered reference of a socket filter needs no owner walk of every process
    assert check(world, conditions, ("-an",)) or conditions[0][3] or conditions[0][0] == "addr"


@pytest.mark.parametrize("conditions", SOCKET_CASES[:4] + SOCKET_CASES[14:16],
                         ids=lambda c: " ".join(argv_of(c)))
def test_without_a(world, conditions):
    """Without -a: a --state starts from every state and kind (as ss does, as -a does); any other
    filter narrows what -n alone lists."""
    if conditions[0][0] == "state":
        check(world, conditions, ("-n",), unfiltered=("-an",))
    else:
        rows = check(world, conditions, ("-n",))
        assert {r["kernel_state"] for r in rows}.isdisjoint({"LISTEN", "CLOSE"})


def child(world, name):
    return str(world.pids[name])


OWNER_CASES = [
    lambda w: [("pid", None, [child(w, "fltalpha")], False)],
    lambda w: [("pid", None, [child(w, "fltalpha"), child(w, "fltbeta")], False)],
    lambda w: [("pid", None, [child(w, "fltalpha")], True)],
    lambda w: [("pid", None, [str(os.getpid())], False), ("port", "either", ["8080"], False)],
    lambda w: [("process", None, ["fltalpha"], False)],
    lambda w: [("process", None, ["flt*"], False), ("state", None, ["listening"], False)],
    lambda w: [("process", None, ["flt*"], True)],
    lambda w: [("process", None, [os.path.basename(os.readlink("/proc/self/exe"))], False)],
    lambda w: [("process", None, ["fltbeta"], False), ("user", None, ["root"], False)],
    lambda w: [("unit", None, [UNIT], False)],
    lambda w: [("unit", None, ["fltunit-*"], True), ("process", None, ["flt*"], False)],
    lambda w: [("container", None, [f"docker:{CONTAINER_ID[:12]}"], False)],
    lambda w: [("container", None, [CONTAINER_ID[:6]], False)],
    lambda w: [("container", None, ["docker:*"], True), ("pid", None, [child(w, "fltdelta"),
                                                                        child(w, "fltalpha")],
                                                         False)],
]


@pytest.mark.parametrize("case", OWNER_CASES, ids=lambda c: c.__code__.co_firstlineno)
def test_owner_filters_equal_the_plain_predicate(world, case):
    conditions = case(world)
    rows = check(world, conditions)
    assert rows or conditions[0][3]


def test_owner_filter_without_o_prints_as_without_o(world):
    with_o = world.run(["-ano", "--json", "--process", "fltalpha"]).json()
    without = world.run(["-an", "--json", "--process", "fltalpha"]).json()
    assert without["owner_scan"] is None and with_o["owner_scan"] is not None
    assert {r["pid"] for r in without["connections"]} == {None}
    assert ([(r["cookie"], r["local_port"]) for r in without["connections"]]
            == [(r["cookie"], r["local_port"]) for r in with_o["connections"]])
    text = world.run(["-an", "--process", "fltalpha"])
    assert "PID" not in text.out and len(text.out.splitlines()) == 4 + 3


def test_text_and_b_rows_are_the_filtered_ones(world):
    result = world.run(["-anb", "--process", "fltgamma"])
    assert result.status == 0
    assert UNIT in result.out and "fltalpha" not in result.out
    ports = {line.split()[1].rpartition(":")[2] for line in result.out.splitlines()
             if line.startswith("  TCP ")}
    assert "6003" in ports and ports <= {"6003"} | {
        str(r["local_port"]) for r in world.run(["-ano", "--json", "--process", "fltgamma"]).json()[
            "connections"]}


# --- ss --------------------------------------------------------------------------------------------
# (our filter, ss's expression of it); tests/test_nettools_filters.py runs them too
SS_CASES = [
    (["--port", "8080"], "( sport = :8080 or dport = :8080 )"),
    (["--port", "!8080"], "not ( sport = :8080 or dport = :8080 )"),
    (["--lport", "8000-8099"], "( sport >= :8000 and sport <= :8099 )"),
    (["--remote", "127.0.0.0/8"], "dst 127.0.0.0/8"),
    (["--local", "::1"], "src [::1]"),
    (["--state", "time-wait,fin-wait-2"], "state time-wait state fin-wait-2"),
    (["--state", "connected", "--rport", "443"], "state connected dport = :443"),
    (["--state", "!listening"], "exclude listening"),
    (["--state", "!listening", "--lport", "6001-6004"],
     "exclude listening ( sport >= :6001 and sport <= :6004 )"),
]


@pytest.mark.skipif(shutil.which("ss") is None, reason="iproute2's ss is not installed")
@pytest.mark.parametrize(("argv", "expression"), SS_CASES)
def test_tcp_rows_equal_ss(world, argv, expression):
    for _attempt in range(3):
        ours = world.run(["-an", "-p", "tcp", "--json", *argv]).json()["connections"]
        ours += world.run(["-an", "-p", "tcpv6", "--json", *argv]).json()["connections"]
        with world.netns.inside():
            out = subprocess.run(["ss", "-tanH", *expression.split()], capture_output=True,
                                 text=True, check=True).stdout
        theirs = sorted((f[0].replace("ESTAB", "ESTABLISHED").replace("-", "_")
                         .replace("SYN_RECV", "SYN_RECEIVED").replace("LISTEN", "LISTENING")
                         .replace("UNCONN", "CLOSED"), int(f[3].rpartition(":")[2]),
                         int(f[4].rpartition(":")[2].replace("*", "0")))
                        for f in (line.split() for line in out.splitlines()))
        mine = sorted((r["state"], r["local_port"], r["remote_port"]) for r in ours)
        if mine == theirs:
            break
    assert mine == theirs
    # the scene's only socket on 443 with a peer is in TIME_WAIT, gone after a minute
    assert mine or expression.startswith("state time") or "443" in expression


# --- no match, bad values --------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["-an"], ["-ano"], ["-anb"], ["-n"]])
def test_no_match_prints_the_header_alone(world, argv):
    header = world.run([*argv, "--port", "8080"]).out.splitlines()[:4]
    result = world.run([*argv, "--port", "1"])
    assert (result.status, result.err) == (0, "")
    assert result.out.splitlines() == header and "Proto" in header[-1]
    result = world.run([*argv, "--json", "--process", "no-such-process-*"])
    assert (result.status, result.json()["connections"]) == (0, [])


@pytest.mark.parametrize(("argv", "bad", "accepted"), [
    (["--port", "70000"], "'70000'", "a port 0-65535"),
    (["--state", "listenin"], "'listenin'", "a group: all, connected"),
    (["--addr", "10.0.0.0/33"], "'10.0.0.0/33'", "an IPv4 or IPv6 address"),
    (["--user", "no-such-user-w1"], "'no-such-user-w1'", "a user name or a numeric UID"),
    (["--pid", "0"], "'0'", "a process ID"),
    (["--interface", "nosuch0"], "'nosuch0'", "an interface name or index"),
    (["--local", "::1%"], "'::1%'", "%ZONE"),
])
def test_a_malformed_value_is_one_line_and_exit_2(world, argv, bad, accepted):
    for mode in ([], ["--json"], ["-o"]):
        result = world.run(["-an", *mode, *argv])
        assert (result.status, result.out) == (2, ""), result
        assert len(result.err.splitlines()) == 1, result.err
        assert bad in result.err and accepted in result.err and argv[0] in result.err


# --- interval mode, -e, -r -------------------------------------------------------------------------
class Passes:
    """env.sleep for interval mode: between passes, run ``between`` (inside the namespace);
    after ``count`` passes, end the run as Ctrl+C does. The runs use a long interval (this
    sleep returns at once): a pass that overran a short one would start the next without
    sleeping, so before ``between`` (seen on a loaded host)."""

    def __init__(self, count: int, between):
        self.count, self.between, self.done = count, between, 0

    def __call__(self, _seconds: float) -> None:
        self.done += 1
        if self.done >= self.count:
            raise KeyboardInterrupt
        self.between(self.done)


def run_interval(world: World, argv: list[str], passes: Passes):
    from pynetstat.cli import main
    from pynetstat.env import Environment

    out, err = io.StringIO(), io.StringIO()
    with world.netns.inside():
        status = main(argv, Environment(out, err, sleep=passes))
    return status, out.getvalue(), err.getvalue()


def test_interval_mode_filters_every_pass(world):
    opened = []

    def between(done):  # main runs inside the namespace: so do the sockets made here
        for port in (6100 + done, 6200 + done):
            opened.append(world.scene.listen((2, 1), ("127.0.0.1", port)))

    status, out, err = run_interval(world, ["-an", "--json", "--lport", "6101-6199", "60"],
                                    Passes(3, between))
    assert (status, err) == (130, "")
    displays = [json.loads(line) for line in out.splitlines()]
    assert [sorted(r["local_port"] for r in d["connections"]) for d in displays] == [
        [], [6101], [6101, 6102]]
    for sock in opened:
        sock.close()


@pytest.mark.slow  # 35 s: three interval passes over the whole filter scene (make soak)
def test_interval_changes_filter_every_pass(world):
    opened = []

    def between(done):
        for port in (6110 + done, 6210 + done):
            opened.append(world.scene.listen((2, 1), ("127.0.0.1", port)))

    status, out, err = run_interval(
        world, ["-an", "--json", "--changes", "--lport", "6111-6199", "--process", "python*",
                "60"], Passes(3, between))
    assert (status, err) == (130, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["connections"] == []
    changed = [(line["change"], line["connection"]["local_port"]) for line in lines[1:]]
    assert changed == [("added", 6111), ("added", 6112)], lines
    for sock in opened:
        sock.close()


def test_interface_keeps_its_rows_of_e_and_r(world):
    everything = world.run(["-e", "-r", "-v", "--json"]).json()
    only = world.run(["-e", "-r", "-v", "--json", "--interface", "v0"]).json()
    assert everything != only
    text = json.dumps(only)
    assert '"v0"' in text and '"v1"' not in text and '"lo"' not in text
    rest = world.run(["-e", "-v", "--interface", "!v0"])
    assert rest.status == 0 and " v0" not in rest.out and "lo" in rest.out


def test_an_owner_filter_narrows_the_kernel_dump(world):
    """With positive owner conditions the kernel is asked for the ends of the sockets the walked
    processes hold (linux/owner_filter.py): a handful of messages, not the whole table."""
    from pynetstat.cli import parse_args
    from pynetstat.env import Environment
    from pynetstat.linux.connections import collect
    from pynetstat.linux.netlink import LiveNetlink

    def messages(argv):
        opts = parse_args(argv)
        with world.netns.inside():
            netlink = LiveNetlink()
            try:
                conns = collect(opts, Environment(io.StringIO(), io.StringIO()), netlink)
                rows = [row for batch in conns for row in batch.sockets()]
            finally:
                netlink.close()
        return conns.log.netlink.messages, rows

    everything, _ = messages(["-an"])
    narrowed, rows = messages(["-an", "--pid", child(world, "fltalpha")])
    assert {r.local_port for r in rows} | {r.remote_port for r in rows} >= {6001}
    assert len(rows) == 3 and narrowed == 3 < everything
    named, rows = messages(["-an", "--process", "fltbeta,fltgamma", "--state", "listening"])
    assert sorted(r.local_port for r in rows) == [6002, 6003] and named == 2
