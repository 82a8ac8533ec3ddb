"""--serve --all-netns (issues 15 and 19): one exporter, in the host's namespace, reads every
network namespace at every scrape; each socket, listener, process, interface and counter series
has a ``netns`` label, the text of --all-netns's Namespace column. Live: two namespaces made by
the test (``ip netns add``) and the host, each with a holder (tests/test_serve.py's HOLDER) on
the same port P and a different number of connections; the oracle is ss inside each namespace.

The exporter is run with ``--lport P``: the machine may hold other namespaces with many sockets
(a bench's 200,000), and the filter, applied in the kernel, keeps each scan to ours.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest

from conftest import LAUNCHER, TESTS
from test_serve import (  # noqa: F401  (pytestmark)
    HOLDER,
    NO_PROXY,
    PROMETHEUS_CONFIG,
    Scene,
    _wait_for,
    by_state,
    pytestmark,
    samples,
    series,
)
from test_serve_netns import free_port

SRC = os.path.join(os.path.dirname(TESTS), "src")
CONNS = {"host": 1, "a": 2, "b": 3}  # connections each holder makes to itself
QUEUED = {"host": 0, "a": 1000, "b": 2000}  # bytes it sends on the first, that nobody reads


def _holder(argv: list[str], name: str, port: int, conns: int, queued: int) -> subprocess.Popen:
    proc = subprocess.Popen([*argv, sys.executable, "-c", HOLDER, name.encode().hex(), str(port),
                             str(conns), str(queued)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _ss_states(enter: list[str], port: int) -> Counter:
    """``ss -Htuan sport = :P`` in a namespace: (proto, state) -> sockets."""
    out = subprocess.run([*enter, "ss", "-Htuan", "sport", "=", f":{port}"], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    state = {"LISTEN": "LISTEN", "ESTAB": "ESTABLISHED", "UNCONN": "CLOSE"}
    return Counter((f[0], state[f[1]]) for f in (line.split() for line in out.splitlines()))


class Namespaces:
    """Two namespaces (``ip netns add``) and a holder in each and in the host, on one port."""

    def __init__(self) -> None:
        tag = os.urandom(4).hex()
        self.names = {"a": f"EXP-all-a-{tag}", "b": f"EXP-all-b-{tag}"}
        self.procs: list[subprocess.Popen] = []
        self.port = free_port()  # free on the host's loopback; the new namespaces have nothing
        self.labels = {"host": "host", **self.names}
        self.process = {key: f"pnst-all-{key}" for key in CONNS}
        self.enter = {"host": [], **{key: ["ip", "netns", "exec", name]
                                     for key, name in self.names.items()}}

    def build(self) -> None:
        for name in self.names.values():
            subprocess.run(["ip", "netns", "add", name], check=True)
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        for key, conns in CONNS.items():
            self.procs.append(_holder(self.enter[key], self.process[key], self.port, conns,
                                      QUEUED[key]))
        self.inodes = {"host": os.stat("/proc/self/ns/net").st_ino,  # the test runs in the host's
                       **{key: os.stat(f"/run/netns/{name}").st_ino
                          for key, name in self.names.items()}}

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        for name in self.names.values():
            subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)


@pytest.fixture
def spaces():
    s = Namespaces()
    try:
        s.build()
        yield s
    finally:
        s.close()


def _serve(*args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, LAUNCHER, "--serve", f"127.0.0.1:{port}",
                             "--all-netns", *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": SRC, "PYNETSTAT_SCRAPE_WAIT": "120"})
    line = proc.stderr.readline()
    assert line == f"pynetstat: serving metrics on http://127.0.0.1:{port}/metrics\n", (
        line + proc.stderr.read() if proc.poll() is not None else line)
    return proc, port


def test_serve_all_netns_labels_every_series_with_its_namespace(spaces):
    server, port = _serve("--lport", str(spaces.port), "--info")
    try:
        with NO_PROXY.open(f"http://127.0.0.1:{port}/metrics", timeout=120) as reply:
            text = reply.read().decode()
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 143
        server.stderr.close()
    found = samples(text)
    ours = set(spaces.labels.values())
    listeners = {(dict(k)["netns"], dict(k)["proto"], dict(k)["process"])
                 for k in series(found, "pynetstat_listeners", port=str(spaces.port))
                 if dict(k)["netns"] in ours}
    assert listeners == {(spaces.labels[key], proto, spaces.process[key])
                         for key in CONNS for proto in ("tcp", "udp")}
    for key, conns in CONNS.items():
        label = spaces.labels[key]
        # --lport P: the listener, the accepted ends (local port P), the UDP socket
        expected = {("tcp", "ipv4", "LISTEN"): 1, ("tcp", "ipv4", "ESTABLISHED"): conns,
                    ("udp", "ipv4", "CLOSE"): 1}
        assert by_state(found, "pynetstat_process_sockets", netns=label,
                        process=spaces.process[key]) == expected, key
        assert by_state(found, "pynetstat_sockets", netns=label) == expected, key
        oracle = _ss_states(spaces.enter[key], spaces.port)
        assert {(p, s): n for (p, _f, s), n in expected.items()} == oracle, key
        assert series(found, "pynetstat_netns_info", netns=label) == {
            frozenset({("netns", label), ("inode", str(spaces.inodes[key]))}): 1}, key
        assert series(found, "pynetstat_interface_rx_bytes_total", netns=label, interface="lo")
        assert series(found, "pynetstat_source_info", netns=label, proto="tcp",
                      source="netlink"), key
        # the queued bytes wait in the accepted end's receive queue (local port P); --info
        # counts them received, per namespace and process
        who = {("netns", label), ("process", spaces.process[key])}
        assert series(found, "pynetstat_process_receive_queue_bytes", netns=label) == (
            {frozenset(who): QUEUED[key]} if QUEUED[key] else {}), key  # empty queues: none
        assert series(found, "pynetstat_process_tcp_received_bytes_total", netns=label) == {
            frozenset(who): QUEUED[key]}, key
    for key in ("a", "b"):
        # a namespace's own -s counters: made fresh, it saw only its holder's connections
        label = spaces.labels[key]
        assert series(found, "pynetstat_protocol_mib_total", netns=label, group="Tcp",
                      name="ActiveOpens") == {frozenset({("netns", label), ("group", "Tcp"), (
                          "name", "ActiveOpens")}): CONNS[key]}
        assert series(found, "pynetstat_protocol_mib_value", netns=label, group="Tcp",
                      name="CurrEstab") == {frozenset({("netns", label), ("group", "Tcp"), (
                          "name", "CurrEstab")}): 2 * CONNS[key]}
    # every series of a namespace's sockets has the label
    for name in ("pynetstat_sockets", "pynetstat_listeners", "pynetstat_process_sockets",
                 "pynetstat_protocol_mib_total", "pynetstat_interface_rx_bytes_total"):
        assert all("netns" in dict(k) for k in series(found, name)), name
    assert found[("pynetstat_netns_unseen_processes", frozenset())] >= 0
    assert all(value == 0 for value in series(found, "pynetstat_scrape_errors_total",
                                              stage="sockets").values())
    # every family is in docs/metrics.md, and promtool accepts the exposition
    with open(os.path.join(os.path.dirname(TESTS), "docs", "metrics.md"), encoding="utf-8") as f:
        docs = f.read()
    documented = {n.removesuffix("_total") for n in re.findall(r"^\| `(pynetstat_\w+)` \|", docs,
                                                               re.M)}
    names = {re.sub(r"_(rx|tx|multicast|collisions)\w*", "_FIELD", n) for n in (
        key[0].removesuffix("_total") for key in found)}
    assert names <= documented, names - documented
    check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def _scan_as_nobody(argv: list[str]) -> dict[str, dict]:
    """One scan of --serve's Scanner, in a child that runs as uid 65534: ``{name: samples}``."""
    from attack.sandbox import NOBODY, become, in_child

    def scan() -> dict[str, dict]:
        from pynetstat.cli import parse_args
        from pynetstat.env import Environment
        from pynetstat.modes.serve import Scanner, scan_options
        from pynetstat.session import Session

        env = Environment(sys.stdout, sys.stderr)
        scanner = Scanner(Session(scan_options(parse_args(argv)), env))
        return {family.name: family.samples for family in scanner.scan()}
    return in_child(scan, setup=lambda: become(NOBODY), timeout=120)


def test_namespaces_that_cannot_be_read_are_counted_by_why(spaces):
    from pynetstat.linux.nsenter import NEEDS_CAP

    # As uid 65534 no namespace of ours can be entered (setns needs CAP_SYS_ADMIN) nor read
    # through /proc/PID/net of its root-owned holder: both are unread, for want of the capability.
    out = _scan_as_nobody(["--serve", "--all-netns", "--lport", str(spaces.port)])
    inodes = {labels[1] for labels in out["pynetstat_netns_info"]}
    assert str(spaces.inodes["a"]) not in inodes and str(spaces.inodes["b"]) not in inodes
    # uid 65534 cannot tell the host's namespace (PID 2's ns/net is closed to it): its label is
    # its inode, as in `pynetstat --all-netns` run unprivileged
    host = str(spaces.inodes["host"])
    assert (host, host) in out["pynetstat_netns_info"]
    assert out["pynetstat_netns_unread"][(NEEDS_CAP,)] >= 2
    # what could be read is still exported: the host's sockets (their root-owned holder's fds
    # are closed to uid 65534: its process is not named)
    assert {key: n for key, n in out["pynetstat_sockets"].items() if key[0] == host} == {
        (host, "tcp", "ipv4", "LISTEN"): 1, (host, "tcp", "ipv4", "ESTABLISHED"): 1,
        (host, "udp", "ipv4", "CLOSE"): 1}
    assert not any(labels[0] in spaces.names.values()
                   for labels in out["pynetstat_process_sockets"])


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus is not installed (Debian package prometheus; .ci/run installs it)")
def test_real_prometheus_sees_another_namespaces_listener_by_its_label():
    # The exporter and Prometheus in one namespace; a holder in a second; the series of the
    # second's listener appears in Prometheus with its netns label, and vanishes with it.
    scene, other = Scene(), Scene()
    try:
        port = free_port()
        scene.start([sys.executable, LAUNCHER, "--serve", "127.0.0.1:9817", "--all-netns",
                     "--lport", str(port)], {"PYNETSTAT_SCRAPE_WAIT": "0.5"},
                    stderr=subprocess.DEVNULL)
        with tempfile.TemporaryDirectory(prefix="EXP-prom-") as tmp:
            config = os.path.join(tmp, "prometheus.yml")
            with open(config, "w") as f:
                f.write(PROMETHEUS_CONFIG)
            scene.start(["prometheus", f"--config.file={config}",
                         f"--storage.tsdb.path={tmp}/data",
                         "--web.listen-address=127.0.0.1:9090"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def query(promql: str) -> list:
                url = "http://127.0.0.1:9090/api/v1/query?" + urllib.parse.urlencode(
                    {"query": promql})
                try:
                    reply = json.loads(scene.get(url, timeout=10))
                except (OSError, urllib.error.URLError):
                    return []  # not up yet
                assert reply["status"] == "success", reply
                return reply["data"]["result"]

            # (the one scan that finds the socket between its owner walk and its dump says "-")
            listener = (f'pynetstat_listeners{{netns="{other.name}",port="{port}",proto="tcp",'
                        'process="pnst-all-prom"}')
            _wait_for("the exporter's first scan", lambda: query("pynetstat_scans_total"))
            assert not query(listener)
            holder = other.holder(b"pnst-all-prom", port=port, conns=1)
            result = _wait_for("the other namespace's listener", lambda: query(listener))
            assert len(result) == 1
            assert result[0]["metric"]["process"] == "pnst-all-prom"
            holder.kill()
            holder.wait()
            _wait_for("the listener gone", lambda: not query(listener))
    finally:
        other.close()
        scene.close()
