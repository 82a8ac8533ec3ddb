"""Network namespaces, live (issue 15): discovery, entering around socket(), the /proc fallback.

The scene, made here and removed after: three namespaces with a TCP listener on the same port of
127.0.0.1 as one in the host's own namespace:

* ``named``: ``ip netns add``, its listener a process started by ``ip netns exec``;
* ``unshared``: ``unshare --net``, its listener the process holding it, running as uid 65534 so
  that the unprivileged child may read its /proc/PID/net;
* ``mounted``: kept only by a bind mount of /proc/PID/ns/net after its process exited; its
  listener was made from this (host) process by entering it, so no process is in it.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import threading

import pytest

from pynetstat.linux.netlink import NETLINK_SOCK_DIAG, DumpStats
from pynetstat.linux.netns import discover, find_target
from pynetstat.linux.nsenter import (
    NEEDS_CAP,
    OPEN_DENIED,
    VANISHED,
    call_in,
    open_netlink_in,
    reach,
)
from pynetstat.linux.procfs import ProcFS, parse_inet_file
from pynetstat.linux.sockdiag import build_request, decode_dump
from pynetstat.model import netns as labels

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make namespaces")

SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's interpreter is under /root, closed to uid 65534
LISTEN = ("import socket, sys, time\n"
          "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
          "print('ready', flush=True)\n"
          "time.sleep(600)\n")
SS_STATES = {1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
             6: "TIME-WAIT", 7: "UNCONN", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN",
             11: "CLOSING"}


def _ns_inode(path: str) -> int:
    return os.stat(path).st_ino


def _own_inode() -> int:
    return _ns_inode("/proc/thread-self/ns/net")


def _start(argv: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", argv
    return proc


class Scene:
    def __init__(self, tmp: str):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.sockets: list[socket.socket] = []
        self.host_listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.host_listener.getsockname()[1]
        self.name = f"pyns-t{os.getpid()}"
        self.mount = os.path.join(tmp, "held-netns")

    def build(self) -> None:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        self.named = _start(["ip", "netns", "exec", self.name, SYSTEM_PYTHON, "-c", LISTEN,
                             str(self.port)])
        self.procs.append(self.named)
        self.unshared = _start(["unshare", "--net", "sh", "-c",
                                "ip link set lo up && exec setpriv --reuid=65534 --regid=65534"
                                f" --clear-groups {SYSTEM_PYTHON} -c \"$0\" {self.port}", LISTEN])
        self.procs.append(self.unshared)
        open(self.mount, "w").close()
        subprocess.run(["unshare", "--net", "sh", "-c",
                        f"ip link set lo up && mount --bind /proc/self/ns/net {self.mount}"],
                       check=True)
        self.sockets.append(call_in(self.mount, lambda: socket.create_server(
            ("127.0.0.1", self.port))))
        self.inodes = {"host": _own_inode(),
                       "named": _ns_inode(f"/run/netns/{self.name}"),
                       "unshared": _ns_inode(f"/proc/{self.unshared.pid}/ns/net"),
                       "mounted": _ns_inode(self.mount)}
        self.paths = {"named": f"/run/netns/{self.name}", "mounted": self.mount,
                      "unshared": f"/proc/{self.unshared.pid}/ns/net"}

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for sock in self.sockets + [self.host_listener]:
            sock.close()
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", self.mount], stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    s = Scene(str(tmp_path_factory.mktemp("netns")))
    try:
        s.build()
        yield s
    finally:
        s.close()


def _tcp(netlink) -> set[tuple[str, str, str]]:
    """Every TCP socket of one netlink source as ss -tan shows it: (state, local, peer)."""
    rows = set()
    for family in (4, 6):
        for s in decode_dump(netlink.dump(build_request(family, "tcp")), "tcp", family,
                             DumpStats()):
            fmt = "{}:{}" if family == 4 else "[{}]:{}"
            peer = fmt.format(s.remote_address, s.remote_port) if s.remote_port else (
                "0.0.0.0:*" if family == 4 else "[::]:*")
            rows.add((SS_STATES[s.state], fmt.format(s.local_address, s.local_port), peer))
    return rows


def _ss(scene: Scene, key: str) -> set[tuple[str, str, str]]:
    """``ip netns exec NAME ss -Htan`` for the named namespace, ``nsenter --net=PATH`` for the
    others (``ip netns exec`` takes only names under /run/netns)."""
    enter = (["ip", "netns", "exec", scene.name] if key == "named" else
             ["nsenter", f"--net={scene.paths[key]}"])
    out = subprocess.run([*enter, "ss", "-Htan"], check=True, capture_output=True,
                         text=True).stdout
    return {(f[0], f[3], f[4]) for f in (line.split() for line in out.splitlines())}


def test_discovery_finds_each_namespace_once_with_label_and_pids(scene):
    found = discover()
    ours = {key: [ns for ns in found.namespaces if ns.inode == inode]
            for key, inode in scene.inodes.items()}
    assert {key: len(v) for key, v in ours.items()} == dict.fromkeys(scene.inodes, 1)
    host, named, unshared, mounted = (ours[k][0] for k in ("host", "named", "unshared",
                                                          "mounted"))
    assert found.host is host and host.label == "host" and os.getpid() in host.pids
    assert (named.label, named.label_kind) == (scene.name, labels.NETNS)
    assert named.pids == [scene.named.pid] and named.mounts == [f"/run/netns/{scene.name}"]
    assert (unshared.label, unshared.label_kind) == (str(unshared.inode), labels.INODE)
    assert unshared.pids == [scene.unshared.pid] and unshared.mounts == []
    assert mounted.pids == [] and mounted.mounts == [scene.mount]
    assert mounted.label == str(mounted.inode) and mounted.path == scene.mount
    assert len({ns.inode for ns in found.namespaces}) == len(found.namespaces)


def test_a_netlink_dump_inside_each_namespace_sees_that_namespace_only(scene):
    before = _own_inode()
    found = discover()
    for key, inode in scene.inodes.items():
        access = reach(found.by_inode(inode))
        assert (access.source, access.why) == ("netlink", None), key
        rows = _tcp(access.netlink)
        access.netlink.close()
        mine = [r for r in rows if r[1] == f"127.0.0.1:{scene.port}"]
        assert mine == [("LISTEN", f"127.0.0.1:{scene.port}", "0.0.0.0:*")], key
        if key != "host":  # the host's table changes under the other tests; these do not
            assert rows == _ss(scene, key), key
        assert _own_inode() == before


def test_the_thread_comes_back_after_every_error(scene, tmp_path):
    before = _own_inode()

    def boom():
        assert _own_inode() == scene.inodes["named"]
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        call_in(scene.paths["named"], boom)
    assert _own_inode() == before
    with pytest.raises(OSError) as err:
        call_in("/proc/self/ns/uts", lambda: None)  # not a network namespace
    assert err.value.errno == errno.EINVAL and _own_inode() == before
    with pytest.raises(FileNotFoundError):
        open_netlink_in(str(tmp_path / "absent"), NETLINK_SOCK_DIAG)
    with pytest.raises(OSError) as err:
        open_netlink_in(scene.paths["named"], NETLINK_SOCK_DIAG, inode=scene.inodes["mounted"])
    assert err.value.errno == errno.ESRCH and _own_inode() == before


def test_only_the_calling_thread_moves(scene):
    main_tid = threading.get_native_id()
    seen = {}

    def inside():
        seen["worker"] = _own_inode()
        seen["main"] = _ns_inode(f"/proc/self/task/{main_tid}/ns/net")

    worker = threading.Thread(target=lambda: call_in(scene.paths["unshared"], inside))
    worker.start()
    worker.join()
    assert seen == {"worker": scene.inodes["unshared"], "main": scene.inodes["host"]}


def test_a_namespace_that_dies_is_reported_not_raised():
    holder = _start(["unshare", "--net", "sh", "-c", "echo ready; exec sleep 600"])
    try:
        inode = _ns_inode(f"/proc/{holder.pid}/ns/net")
        ns = discover().by_inode(inode)
        assert ns is not None and ns.pids == [holder.pid]
    finally:
        holder.kill()
        holder.wait()
    access = reach(ns)
    assert (access.source, access.why) == (None, VANISHED)
    assert discover().by_inode(inode) is None


def test_a_namespace_left_by_its_last_process_after_reach_still_answers():
    """Our netlink socket holds a reference to its namespace (sk_alloc -> get_net for a user
    socket): the dump after the holder died is complete, and holds none of the dead process's
    sockets."""
    holder = _start(["unshare", "--net", "sh", "-c",
                     f"ip link set lo up && exec {SYSTEM_PYTHON} -c \"$0\" 0", LISTEN])
    try:
        ns = discover().by_inode(_ns_inode(f"/proc/{holder.pid}/ns/net"))
        access = reach(ns)
        assert len(_tcp(access.netlink)) == 1
    finally:
        holder.kill()
        holder.wait()
    try:
        assert _tcp(access.netlink) == set()
    finally:
        access.netlink.close()


def test_unprivileged_says_which_namespaces_it_could_not_enter(scene):
    from tests.attack.sandbox import NOBODY, become, in_child

    def look():
        found = discover()
        out = {}
        for key, inode in scene.inodes.items():
            ns = found.by_inode(inode)
            if ns is None:
                out[key] = None
                continue
            access = reach(ns)
            ports = None
            if access.source == "proc":
                errors: list = []
                text = ProcFS(access.proc_root).read_text("net/tcp")
                ports = sorted(s.local_port for s in parse_inet_file(text, "tcp", "tcp", 4,
                                                                      errors))
            elif access.source == "netlink":
                ports = sorted({int(r[1].rpartition(":")[2]) for r in _tcp(access.netlink)})
            out[key] = (access.source, access.why, ports)
        return out, found.denied

    seen, denied = in_child(look, setup=lambda: become(NOBODY))
    assert denied > 0  # root's processes: their namespace links are closed to uid 65534
    assert seen["unshared"] == ("proc", NEEDS_CAP, [scene.port])
    assert seen["named"] == (None, NEEDS_CAP, None)  # found by its mount; its process is root's
    # in pytest's temporary directory (mode 0700): the mount is listed but cannot be opened
    assert seen["mounted"] == (None, OPEN_DENIED, None)
    assert seen["host"][:2] == ("netlink", None) and scene.port in seen["host"][2]


def test_find_target_names_each_namespace_of_the_scene(scene):
    found = discover()
    for target, key in ((scene.name, "named"), (str(scene.unshared.pid), "unshared"),
                        (scene.mount, "mounted"), (scene.paths["unshared"], "unshared"),
                        (str(os.getpid()), "host")):
        assert [ns.inode for ns in find_target(found, target)] == [scene.inodes[key]], target
