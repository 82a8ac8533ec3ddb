"""--netns and --all-netns through the command line, live (issue 15).

The scene, made here and removed after: three network namespaces and the host's, each with the
same sockets on the same port P of 127.0.0.1 (a TCP listener, a connection to it from the same
namespace, both of its ends, a UDP socket):

* ``named``: ``ip netns add k15-...``, its sockets held by a process ``ip netns exec`` started;
* ``unshared``: ``unshare --net``, its sockets held by the process holding it, as uid 65534
  (so that an unprivileged pynetstat may read its /proc/PID/net);
* ``mounted``: kept only by a bind mount after its process exited; its sockets made by this
  (host) process inside it, so their owner is this process, by its host PID;
* ``host``: the same sockets made by this process in its own namespace.

The oracle is ss, run inside each namespace (``nsenter --net=PATH ss -Htuanp``; ``ip netns
exec`` for the named one).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import LAUNCHER, run_inprocess, run_subprocess
from pynetstat.linux.nsenter import NEEDS_CAP, OPEN_DENIED, call_in

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make namespaces")

SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's interpreter is under /root, closed to uid 65534
SERVE = ("import socket, sys, time\n"
         "port = int(sys.argv[1])\n"
         "srv = socket.create_server(('127.0.0.1', port))\n"
         "cli = socket.create_connection(('127.0.0.1', port))\n"
         "acc = srv.accept()[0]\n"
         "udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
         "udp.bind(('127.0.0.1', port))\n"
         "print('ready', flush=True)\n"
         "time.sleep(600)\n")
SS_PROTO = {"tcp": "tcp", "udp": "udp"}


def _serve_here(port: int) -> list[socket.socket]:
    """SERVE's sockets, made by this thread in the namespace it is in."""
    srv = socket.create_server(("127.0.0.1", port))
    cli = socket.create_connection(("127.0.0.1", port))
    acc = srv.accept()[0]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    return [srv, cli, acc, udp]


def _start(argv: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", argv
    return proc


def _inode(path: str) -> int:
    return os.stat(path).st_ino


class Scene:
    def __init__(self, tmp: str):
        self.procs: list[subprocess.Popen] = []
        self.sockets: list[socket.socket] = []
        # A port free on the host's loopback; the fresh namespaces have nothing on any port.
        probe = socket.create_server(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.only_host = socket.create_server(("127.0.0.1", 0))  # a listener of the host alone
        self.name = f"k15-t{os.getpid()}"
        self.mount = os.path.join(tmp, "held-netns")

    def build(self) -> None:
        port = str(self.port)
        self.sockets += _serve_here(self.port)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        self.named = _start(["ip", "netns", "exec", self.name, SYSTEM_PYTHON, "-c", SERVE, port])
        self.procs.append(self.named)
        self.unshared = _start(["unshare", "--net", "sh", "-c",
                                "ip link set lo up && exec setpriv --reuid=65534 --regid=65534"
                                f" --clear-groups {SYSTEM_PYTHON} -c \"$0\" {port}", SERVE])
        self.procs.append(self.unshared)
        open(self.mount, "w").close()
        subprocess.run(["unshare", "--net", "sh", "-c",
                        f"ip link set lo up && mount --bind /proc/self/ns/net {self.mount}"],
                       check=True)
        self.sockets += call_in(self.mount, lambda: _serve_here(self.port))
        self.paths = {"host": "/proc/self/ns/net", "named": f"/run/netns/{self.name}",
                      "unshared": f"/proc/{self.unshared.pid}/ns/net", "mounted": self.mount}
        self.inodes = {key: _inode(path) for key, path in self.paths.items()}
        self.labels = {"host": "host", "named": self.name,
                       "unshared": str(self.inodes["unshared"]),
                       "mounted": str(self.inodes["mounted"])}
        self.owner = {"host": os.getpid(), "named": self.named.pid,
                      "unshared": self.unshared.pid, "mounted": os.getpid()}

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for sock in self.sockets + [self.only_host]:
            sock.close()
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", self.mount], stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    s = Scene(str(tmp_path_factory.mktemp("k15netns")))
    try:
        s.build()
        yield s
    finally:
        s.close()


def _ss(scene: Scene, key: str) -> set[tuple]:
    """``ss -Htuanp`` inside the namespace: ``(proto, local, peer, pids)`` per socket."""
    enter = (["ip", "netns", "exec", scene.name] if key == "named" else
             ["nsenter", f"--net={scene.paths[key]}"])
    if key == "host":
        enter = []
    out = subprocess.run([*enter, "ss", "-Htuanp"], check=True, capture_output=True,
                         text=True).stdout
    rows = set()
    for line in out.splitlines():
        f = line.split()
        pids = frozenset(int(p) for p in re.findall(r"pid=(\d+)", line))
        rows.add((SS_PROTO[f[0]], f[4], f[5], pids))
    return rows


def _ours(doc: dict, inode: int) -> set[tuple]:
    """The rows of one namespace in a --json document, as ``_ss`` shows them."""
    rows = set()
    for r in doc["connections"]:
        if r["netns"]["inode"] != inode:
            continue
        peer = ("0.0.0.0:*" if r["remote_port"] == 0 else
                f"{r['remote_address']}:{r['remote_port']}")
        pids = frozenset(o["pid"] for o in (r["owners"] or ()))
        rows.add((r["proto"], f"{r['local_address']}:{r['local_port']}", peer, pids))
    return rows


def _on_port(rows: set[tuple], port: int) -> set[tuple]:
    return {r for r in rows if r[1].endswith(f":{port}") or r[2].endswith(f":{port}")}


def test_all_netns_lists_every_socket_once_as_ss_does_inside_each(scene):
    res = run_subprocess(["--all-netns", "-ano", "--json"])
    assert res.status == 0, res.err
    doc = json.loads(res.out)
    inodes = [r["inode"] for r in doc["connections"] if r["inode"]]
    assert len(inodes) == len(set(inodes))  # each socket once, in one namespace
    for key, inode in scene.inodes.items():
        ours, theirs = _ours(doc, inode), _ss(scene, key)
        if key == "host":  # the host's table changes under other work: our port's rows only
            ours, theirs = _on_port(ours, scene.port), _on_port(theirs, scene.port)
        assert ours == theirs, key
        assert len(_on_port(ours, scene.port)) == 4, key
        assert {pids for *_, pids in _on_port(ours, scene.port)} == {
            frozenset({scene.owner[key]})}, key
        netns = next(r["netns"] for r in doc["connections"] if r["netns"]["inode"] == inode)
        assert netns["label"] == scene.labels[key]
        assert netns["name"] == (scene.name if key == "named" else None)
    port_rows = [r for r in doc["connections"] if r["local_port"] == scene.only_host.getsockname()[1]]
    assert [r["netns"]["label"] for r in port_rows] == ["host"]
    read = {p["netns"]["inode"]: p["source"] for p in doc["namespaces"]}
    assert all(read[inode] == "netlink" for inode in scene.inodes.values())


def test_all_netns_text_labels_each_row_in_the_namespace_column(scene):
    res = run_subprocess(["--all-netns", "-ano", "-p", "tcp"])
    assert res.status == 0, res.err
    lines = res.out.splitlines()
    assert lines[3].split() == ["Namespace", "Proto", "Local", "Address", "Foreign", "Address",
                                "State", "PID"]
    listeners = sorted(line.split() for line in lines
                       if f" 127.0.0.1:{scene.port} " in line and "LISTENING" in line)
    assert listeners == sorted([scene.labels[key], "TCP", f"127.0.0.1:{scene.port}",
                                "0.0.0.0:0", "LISTENING", str(scene.owner[key])]
                               for key in scene.inodes)


@pytest.mark.parametrize("how", ["name", "pid", "mount", "proc path"])
def test_netns_target_shows_that_namespace_alone(scene, how):
    key, target = {"name": ("named", scene.name),
                   "pid": ("unshared", str(scene.unshared.pid)),
                   "mount": ("mounted", scene.mount),
                   "proc path": ("named", f"/proc/{scene.named.pid}/ns/net")}[how]
    res = run_subprocess(["--netns", target, "-ano", "--json"])
    assert res.status == 0, res.err
    doc = json.loads(res.out)
    assert {r["netns"]["inode"] for r in doc["connections"]} == {scene.inodes[key]}
    assert _ours(doc, scene.inodes[key]) == _ss(scene, key)
    text = run_subprocess(["--netns", target, "-an"]).out
    assert f"127.0.0.1:{scene.port}" in text
    assert f":{scene.only_host.getsockname()[1]} " not in text


def test_netns_statistics_interfaces_and_routes_are_the_namespaces(scene):
    for key in ("named", "mounted"):  # mounted: no process in it; its /proc/net read inside
        target = scene.name if key == "named" else scene.mount
        res = run_subprocess(["--netns", target, "-s", "-p", "tcp", "--json"])
        assert res.status == 0, res.err
        tcp = json.loads(res.out)["statistics"]["sections"][0]["counters"]
        # one connection made in each: one active and one passive open, two ends established
        assert (tcp["Active Opens"], tcp["Passive Opens"], tcp["Current Connections"]) == (
            1, 1, 2), key
        res = run_subprocess(["--netns", target, "-e", "-v", "--json"])
        assert [i["name"] for i in json.loads(res.out)["interfaces"]["interfaces"]] == ["lo"]
        routes = json.loads(run_subprocess(["--netns", target, "-r", "--json"]).out)["routes"]
        assert [i["name"] for i in routes["interfaces"]] == ["lo"]
        assert routes["ipv4_routes"] == []


def test_all_netns_sections_are_one_per_namespace(scene):
    res = run_subprocess(["--all-netns", "-s", "-p", "tcp", "-e", "-v", "--json"])
    assert res.status == 0, res.err
    docs = [json.loads(line) for line in res.out.splitlines()]
    by_inode = {d["netns"]["inode"]: d for d in docs}
    assert len(by_inode) == len(docs)  # each namespace once
    assert docs[0]["netns"]["label"] == "host"
    for key in ("named", "unshared", "mounted"):
        doc = by_inode[scene.inodes[key]]
        assert doc["netns"]["label"] == scene.labels[key]
        tcp = doc["statistics"]["sections"][0]["counters"]
        assert (tcp["Active Opens"], tcp["Passive Opens"]) == (1, 1), key
        assert [i["name"] for i in doc["interfaces"]["interfaces"]] == ["lo"], key
    text = run_subprocess(["--all-netns", "-r"]).out
    for key in ("named", "mounted"):
        title = f"Network namespace {scene.labels[key]} (inode {scene.inodes[key]})"
        assert text.count(title) == 1
        assert "Interface List\n  1...00 00 00 00 00 00 ......lo\n====" in text.split(title)[1]


def test_netns_names_interfaces_as_the_namespace_does(scene):
    """A link-local socket's scope is an ifindex of its namespace: named by that namespace's
    link table, not by ours (where the same index is another interface, or none)."""
    ns = ["ip", "-n", scene.name]
    subprocess.run([*ns, "link", "add", "k15dummy", "type", "veth", "peer", "name", "k15peer"],
                   check=True)
    subprocess.run([*ns, "link", "set", "k15peer", "up"], check=True)
    subprocess.run([*ns, "link", "set", "k15dummy", "up"], check=True)
    subprocess.run([*ns, "addr", "add", "fe80::15/64", "dev", "k15dummy", "nodad"], check=True)

    def bind():
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind(("fe80::15", scene.port, 0, socket.if_nametoindex("k15dummy")))
        return sock
    sock = call_in(scene.paths["named"], bind)
    try:
        res = run_subprocess(["--netns", scene.name, "-an", "-p", "udpv6"])
        assert res.status == 0, res.err
        assert f"[fe80::15%k15dummy]:{scene.port}" in res.out
        res = run_subprocess(["--all-netns", "-an", "-p", "udpv6"])
        rows = [line.split() for line in res.out.splitlines() if "fe80::15" in line]
        assert rows == [[scene.name, "UDP", f"[fe80::15%k15dummy]:{scene.port}", "*:*"]]
        res = run_subprocess(["--all-netns", "-an", "-p", "udpv6", "--json"])
        rows = [r for r in json.loads(res.out)["connections"] if r["local_address"] == "fe80::15"]
        assert [(r["interface"], r["netns"]["label"]) for r in rows] == [("k15dummy", scene.name)]
    finally:
        sock.close()
        subprocess.run([*ns, "link", "del", "k15dummy"], check=True)


def test_netns_interval_redisplays_the_namespace(scene):
    proc = subprocess.Popen([sys.executable, LAUNCHER, "--netns", scene.name, "-an", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Three displays begun (however long a loaded host makes the first take), then Ctrl+C.
    seen, deadline = [], time.monotonic() + 60
    while sum(line.startswith("Active Connections") for line in seen) < 3:
        assert time.monotonic() < deadline, seen
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        seen.append(line)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    out = "".join(seen) + rest
    assert proc.returncode == 130, err
    displays = out.split("Active Connections")[1:]
    assert len(displays) >= 2
    for display in displays[:-1]:  # the last may be cut by Ctrl+C
        assert f"127.0.0.1:{scene.port} " in display
        assert f":{scene.only_host.getsockname()[1]} " not in display


def test_bad_targets_are_one_line_and_exit_2(scene):
    for target, says in (("k15-no-such-ns", "no such network namespace"),
                         ("999999999", "cannot read /proc/999999999/ns/net"),
                         ("/etc/hostname", "not a network namespace file"),
                         ("/proc/self/ns/uts", "not a network namespace file")):
        res = run_subprocess(["--netns", target, "-an"])
        assert (res.status, res.out) == (2, ""), target
        assert res.err.count("\n") == 1 and says in res.err, res.err
    res = run_subprocess(["--netns", scene.name, "--all-netns"])
    assert res.status == 2 and "cannot be combined" in res.err
    res = run_subprocess(["--all-netns", "--audit"])
    assert res.status == 2 and "--all-netns cannot be combined with --audit" in res.err


def test_a_namespace_that_dies_after_it_was_reached_still_answers(scene):
    from pynetstat.cli import parse_args
    from pynetstat.env import Environment
    from pynetstat.linux.allnetns import collect

    holder = _start(["unshare", "--net", "sh", "-c",
                     f"ip link set lo up && exec {SYSTEM_PYTHON} -c \"$0\" {scene.port}", SERVE])
    inode = _inode(f"/proc/{holder.pid}/ns/net")
    try:
        conns = collect(parse_args(["--all-netns", "-ano"]), Environment(sys.stdout, sys.stderr))
    finally:
        holder.kill()
        holder.wait()
    try:
        part = next(p for p in conns.parts if p.namespace.inode == inode)
        rows = [sock for batch in part.conns for sock, _owners in batch.rows()]
        # its sockets closed with the process (what is left, TIME_WAIT, has no inode); the
        # namespace answered through our socket
        assert [s for s in rows if s.inode] == []
        assert part.source == "netlink"
    finally:
        conns.close()


def _unprivileged(argv: list[str], kill: int | None = None):
    """pynetstat as uid 65534 (no capabilities), in a forked child: ``(status, out, err)``."""
    from tests.attack.sandbox import NOBODY, become, in_child

    def run():
        return run_inprocess(argv).__dict__
    result = in_child(run, setup=lambda: become(NOBODY))
    return result["status"], result["out"], result["err"]


def test_unprivileged_all_netns_shows_what_it_can_and_names_the_rest(scene):
    status, out, err = _unprivileged(["--all-netns", "-ano", "--json"])
    assert status == 0, err
    doc = json.loads(out)
    seen = {r["netns"]["inode"] for r in doc["connections"]}
    assert scene.inodes["unshared"] in seen and scene.inodes["host"] in seen
    assert scene.inodes["named"] not in seen and scene.inodes["mounted"] not in seen
    # the unshared namespace's rows come from /proc/PID/net of its uid-65534 process
    unshared = _ours(doc, scene.inodes["unshared"])
    assert {(p, local, peer) for p, local, peer, _ in unshared} == {
        (p, local, peer) for p, local, peer, _ in _ss(scene, "unshared")}
    assert {pids for *_, pids in unshared} == {frozenset({scene.unshared.pid})}
    source = {p["netns"]["inode"]: (p["source"], p["why"]) for p in doc["namespaces"]}
    assert source[scene.inodes["unshared"]] == ("proc", NEEDS_CAP)
    unread = {u["netns"]["inode"]: u["why"] for u in doc["unread_namespaces"]}
    assert unread[scene.inodes["named"]] == NEEDS_CAP
    assert unread[scene.inodes["mounted"]] == OPEN_DENIED
    status, out, err = _unprivileged(["--all-netns", "-an"])
    lines = [line for line in err.splitlines() if "could not be read:" in line]
    assert len(lines) == 1, err
    assert f"{scene.name} ({NEEDS_CAP})" in lines[0]
    assert f"{scene.inodes['mounted']} ({OPEN_DENIED})" in lines[0]
    assert f"instead of netlink: {scene.inodes['unshared']} ({NEEDS_CAP})" in err


def test_unprivileged_netns_falls_back_to_proc_and_says_so(scene):
    status, out, err = _unprivileged(["--netns", str(scene.unshared.pid), "-an"])
    assert status == 0, err
    assert f"127.0.0.1:{scene.port} " in out
    assert err == (f"pynetstat: network namespace {scene.inodes['unshared']}: read from "
                   f"/proc/{scene.unshared.pid}/net instead of netlink ({NEEDS_CAP})\n")
    status, out, err = _unprivileged(["--netns", scene.name, "-an"])
    assert (status, out) == (1, "")
    assert err == (f"pynetstat: network namespace {scene.name} cannot be read: {NEEDS_CAP}, "
                   "and no process in it has a readable /proc/PID/net\n")
