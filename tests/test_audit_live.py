"""The audit (issue 16) against the real kernel: each sign planted live in a test-made network
namespace is found with its evidence, and a clean namespace with ordinary servers raises nothing.

The audit runs inside the namespace (``ip netns exec``), so it sees that namespace's sockets
only: other tests running on the host cannot add to or hide from what is checked here.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]

# The audit as a user runs it: the command line, in the namespace (PYTHONPATH: this checkout's
# pynetstat, whatever is installed).
AUDIT = ("--audit", "--json")
SRC = os.path.join(os.path.dirname(TESTS), "src")


class Netns:
    def __init__(self):
        self.name = f"pnst-audit-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.name, *args], check=True)

    def run(self, argv, **kw):
        return ["ip", "netns", "exec", self.name, *argv]

    def pynetstat(self, *args: str) -> subprocess.CompletedProcess:
        """``pynetstat ARGS`` run in the namespace through the command line."""
        env = {**os.environ, "PYTHONPATH": SRC}
        return subprocess.run(self.run([sys.executable, "-m", "pynetstat", *args]),
                              capture_output=True, text=True, timeout=120, env=env)

    def audit(self) -> dict:
        """``pynetstat --audit --json``'s document, its exit status checked against the one it
        says."""
        done = self.pynetstat(*AUDIT)
        doc = json.loads(done.stdout)
        assert done.returncode == doc["exit_status"], done.stderr
        assert done.stderr == ""
        return doc

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def _libc() -> str:
    """A library every process loads anyway: a harmless LD_PRELOAD."""
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "/libc.so" in path or "/libc-" in path:
                return path
    return glob.glob("/lib*/**/libc.so.6", recursive=True)[0]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    ns = Netns()
    scene = None
    try:
        ns.ip("link", "add", "va", "type", "veth", "peer", "name", "vb")
        ns.ip("link", "add", "br0", "type", "bridge")
        ns.ip("link", "add", "vc", "type", "veth", "peer", "name", "vd")
        ns.ip("link", "set", "vc", "master", "br0")
        ns.ip("link", "set", "va", "promisc", "on")
        scene = subprocess.Popen(
            ns.run([sys.executable, os.path.join(TESTS, "audit_scene.py"),
                    str(tmp_path_factory.mktemp("audit")), _libc(), "va"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        planted = json.loads(scene.stdout.readline())
        doc = ns.audit()
        planted["text"] = ns.pynetstat("--audit")  # the same scene, as a person reads it
        yield planted, doc
    finally:
        if scene is not None:
            scene.stdin.close()
            scene.wait(timeout=10)
        ns.close()


def _pid(scene, sign):
    pid = scene["pids"][sign]
    if pid is None:
        pytest.skip(f"{sign} could not be planted here (noexec /dev/shm, no /usr/bin/python3?)")
    return pid


def _of(doc, sign, pid=None):
    return [f for f in doc["findings"] if f["sign"] == sign
            and (pid is None or (f["process"] or {}).get("pid") == pid)]


def _evidence(finding, what):
    return [e for e in finding["evidence"] if e["what"] == what]


def test_deleted_executable_that_listens(planted):
    scene, doc = planted
    (found,) = _of(doc, "deleted-executable", _pid(scene, "deleted-executable"))
    assert found["severity"] == "alert"
    (exe,) = _evidence(found, "executable")
    assert exe["value"]["deleted"] and not exe["value"]["replaced"]
    assert exe["value"]["path"].endswith("/pnst-deleted")
    assert exe["source"] == f"/proc/{_pid(scene, 'deleted-executable')}/exe"
    assert found["process"]["exe_deleted"] and found["process"]["ancestry"]
    assert [(s["state"], s["local_address"]) for s in found["sockets"]] == [("LISTEN", "0.0.0.0")]


def test_an_upgraded_executable_is_info(planted):
    scene, doc = planted
    (found,) = _of(doc, "deleted-executable", _pid(scene, "upgraded"))
    assert found["severity"] == "info" and "upgrade" in found["why"]
    assert _evidence(found, "executable")[0]["value"]["replaced"] is True


def test_executable_in_dev_shm(planted):
    scene, doc = planted
    (found,) = _of(doc, "writable-place", _pid(scene, "writable-place"))
    assert found["severity"] == "alert"
    (place,) = _evidence(found, "executable's place")
    assert place["value"] == {"directory": "/dev/shm", "world_writable": True, "mode": "1777",
                              "temporary": "/dev/shm"}
    assert place["source"] == "stat /dev/shm"


def test_fileless_process(planted):
    scene, doc = planted
    pid = _pid(scene, "memory-executable")
    (found,) = _of(doc, "memory-executable", pid)
    assert found["severity"] == "alert"
    (exe,) = _evidence(found, "executable")
    assert exe["value"]["path"] == "/memfd:pnst-fileless" and exe["value"]["memfd"]
    assert not _of(doc, "deleted-executable", pid)  # one finding for one fact


def test_shell_on_a_tcp_connection(planted):
    scene, doc = planted
    (found,) = _of(doc, "shell-on-socket", _pid(scene, "shell-on-socket"))
    assert found["severity"] == "alert"
    (streams,) = _evidence(found, "standard streams on network sockets")
    assert sorted(streams["value"]) == ["0", "1"]
    assert [s["inode"] for s in found["sockets"]] == [streams["value"]["0"]]
    assert found["sockets"][0]["state"] == "ESTABLISHED"


def test_process_calling_itself_a_kernel_thread(planted):
    scene, doc = planted
    (found,) = _of(doc, "lying-name", _pid(scene, "lying-name"))
    assert found["severity"] == "alert"
    assert _evidence(found, "name")[0]["value"] == "[kworker/0:1]"
    assert _evidence(found, "executable")[0]["value"]["path"] == os.path.realpath(sys.executable)


def test_listener_with_ld_preload(planted):
    scene, doc = planted
    (found,) = _of(doc, "preload", _pid(scene, "preload"))
    assert found["severity"] == "warning"
    (preload,) = _evidence(found, "LD_PRELOAD")
    assert preload["value"] == _libc()
    assert preload["source"] == f"/proc/{_pid(scene, 'preload')}/environ"


def test_ordinary_user_listening_everywhere(planted):
    scene, doc = planted
    (found,) = _of(doc, "open-listener", _pid(scene, "open-listener"))
    assert found["severity"] == "warning"
    assert found["process"]["user"] == 1000
    assert [s["local_address"] for s in found["sockets"]] == ["::"]
    assert _evidence(found, "UID_MIN")
    # The root-owned wildcard listener of the deleted copy is not this sign.
    assert not _of(doc, "open-listener", _pid(scene, "deleted-executable"))


def test_socket_no_process_holds(planted):
    scene, doc = planted
    (found,) = _of(doc, "unowned-socket")
    assert [s["inode"] for s in found["sockets"]] == [scene["unowned"]]
    # Warning when every fd table was read; info, with the reason, when some could not be.
    if found["severity"] == "info":
        assert found["evidence"][0]["what"].startswith(("processes", "our PID namespace"))
    else:
        assert found["severity"] == "warning"


def test_promiscuous_interfaces(planted):
    _, doc = planted
    by_name = {f["evidence"][0]["value"]["interface"]: f for f in _of(doc, "promiscuous-interface")}
    assert by_name["va"]["severity"] == "warning"
    assert by_name["va"]["evidence"][0]["source"] == "/sys/class/net/va/flags"
    assert by_name["vc"]["severity"] == "info"  # a bridge port: br0 made it so
    assert by_name["vc"]["evidence"][0]["value"]["master"] == "br0"
    assert set(by_name) == {"va", "vc"}


def _held(doc, sign, pid):
    (found,) = _of(doc, sign, pid)
    (fact,) = [e for e in found["evidence"] if e["what"] == sign.replace("-", " ")]
    return found, fact


def test_a_sniffer_holding_an_interface_promiscuous_is_an_alert(planted):
    scene, doc = planted
    pid = _pid(scene, "sniffer")
    found, fact = _held(doc, "packet-socket", pid)
    assert found["severity"] == "alert" and "sniffer" in found["why"]
    assert found["process"]["pid"] == pid and found["process"]["exe"] == os.path.realpath(
        sys.executable)
    assert fact["source"] == "sock_diag packet"
    assert fact["value"]["promiscuous"] is True and fact["value"]["promiscuous_on"] == ["va"]
    assert (fact["value"]["type"], fact["value"]["protocol"], fact["value"]["protocol_name"],
            fact["value"]["interface"]) == ("raw", 3, "all", "va")
    # The interface's own finding names the socket and its holder.
    (va,) = [f for f in _of(doc, "promiscuous-interface")
             if f["evidence"][0]["value"]["interface"] == "va"]
    assert [e["value"] for e in va["evidence"] if e["what"] == "held promiscuous by"] == [
        f"packet socket inode {fact['value']['inode']} of {pid} {found['process']['name']}"]


def test_a_dhcp_clients_packet_socket_is_info(planted):
    scene, doc = planted
    found, fact = _held(doc, "packet-socket", _pid(scene, "dhclient"))
    assert found["severity"] == "info" and "DHCP" in found["why"]
    assert found["process"]["exe"].endswith("/dhclient")
    assert fact["value"]["promiscuous"] is False
    assert (fact["value"]["type"], fact["value"]["protocol"]) == ("dgram", 0x0800)


def test_raw_sockets_with_their_owners(planted):
    scene, doc = planted
    found, fact = _held(doc, "raw-socket", _pid(scene, "raw-socket"))
    assert found["severity"] == "warning"
    assert (fact["value"]["family"], fact["value"]["protocol"],
            fact["value"]["protocol_name"]) == ("ipv4", 1, "icmp")
    assert fact["source"] in ("sock_diag raw", "/proc/net/raw")
    ping, _ = _held(doc, "raw-socket", _pid(scene, "ping"))
    assert ping["severity"] == "info" and ping["process"]["exe"].endswith("/ping")


def test_exit_status_says_alerts(planted):
    _, doc = planted
    assert doc["exit_status"] == 3
    assert doc["summary"]["alert"] == sum(f["severity"] == "alert" for f in doc["findings"])


def test_text_says_each_finding_with_its_evidence_then_a_summary(planted):
    scene, doc = planted
    done = scene["text"]
    assert done.returncode == 3 and done.stderr == ""
    lines = done.stdout.splitlines()
    heads = [line for line in lines if not line.startswith(("    ", "note: "))]
    assert heads[-1].startswith(f"Audit: {doc['summary']['alert']} alerts, ")
    for sign in ("deleted-executable", "memory-executable", "writable-place", "shell-on-socket",
                 "lying-name"):
        assert any(h.startswith(f"ALERT {sign}: ") for h in heads), sign
    pid = _pid(scene, "shell-on-socket")
    at = lines.index(next(h for h in heads if h.startswith("ALERT shell-on-socket:")))
    assert lines[at + 1].startswith(f"    process: {pid} sh, user 0, exe ")
    assert any(line.startswith("    standard streams on network sockets: 0=")
               and line.endswith(f"[/proc/{pid}/fd/{{0,1,2}}]") for line in lines[at:])


CLEAN = textwrap.dedent("""
    import socket, subprocess, sys
    web = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = web.stdout.readline()
    port = int(line.split(" port ")[1].split()[0])
    client = socket.create_connection(("127.0.0.1", port))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    print(web.pid, flush=True)
    sys.stdin.read()
    web.kill()
""")


def test_clean_namespace_raises_nothing():
    ns = Netns()
    server = None
    try:
        server = subprocess.Popen(ns.run([sys.executable, "-c", CLEAN]), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        web = int(server.stdout.readline())
        doc = ns.audit()
    finally:
        if server is not None:
            server.stdin.close()
            server.wait(timeout=10)
        ns.close()
    assert doc["summary"]["processes"] == 2  # the web server and its client
    assert [f for f in doc["findings"] if f["severity"] != "info"] == []
    assert doc["exit_status"] == 0
    assert not any((f["process"] or {}).get("pid") == web for f in doc["findings"])
