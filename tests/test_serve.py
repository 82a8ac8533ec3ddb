"""--serve (issue 19), live: the exporter runs in a network namespace made here, beside holder
processes whose sockets the test made; /metrics is scraped with urllib (from a thread inside the
namespace) and read with prometheus_client's own parser. Values are asserted exactly: against
the counts the scene was built with and against a predicate over ``-ano --json`` of the same
namespace. A real Prometheus (Debian's package) scrapes it too, and its query API is asked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter

import pytest

from conftest import LAUNCHER, TESTS
from pynetstat.linux.nsenter import call_in
from pynetstat.textsafe import safe

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client (the exporter extra) is not installed")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a network namespace"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]

SRC = os.path.join(os.path.dirname(TESTS), "src")
SERVE_PORT = 9817
HOLDER_PORT = 4101
# A holder: names itself (prctl PR_SET_NAME, any bytes but NUL), then listens on TCP, makes
# ``conns`` connections to itself, sends ``queued`` bytes on the first that nobody reads, binds
# a UDP socket, says "ready" and waits.
HOLDER = r"""
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, bytes.fromhex(sys.argv[1]), 0, 0, 0)
port, conns, queued = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
keep = [socket.create_server(("127.0.0.1", port))]
for _ in range(conns):
    c = socket.create_connection(("127.0.0.1", port))
    keep += [c, keep[0].accept()[0]]
if queued:
    keep[1].sendall(b"x" * queued)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", port))
keep.append(u)
time.sleep(0.2)  # the queued bytes land in the peer's receive queue
print("ready", flush=True)
time.sleep(600)
"""
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Scene:
    """A network namespace with lo up; processes started in it are ended and it is removed."""

    def __init__(self):
        self.name = f"EXP-serve-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        self.path = f"/run/netns/{self.name}"
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list[str], environ: dict | None = None, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], text=True,
                                env={**os.environ, "PYTHONPATH": SRC, **(environ or {})}, **kw)
        self.procs.append(proc)
        return proc

    def holder(self, name: bytes, port: int = HOLDER_PORT, conns: int = 3,
               queued: int = 0) -> subprocess.Popen:
        proc = self.start([sys.executable, "-c", HOLDER, name.hex(), str(port), str(conns),
                           str(queued)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    def serve(self, *args: str, environ: dict | None = None) -> subprocess.Popen:
        proc = self.start([sys.executable, LAUNCHER, "--serve", f"127.0.0.1:{SERVE_PORT}", *args],
                          environ, stderr=subprocess.PIPE)
        line = proc.stderr.readline()
        assert line == f"pynetstat: serving metrics on http://127.0.0.1:{SERVE_PORT}/metrics\n"
        return proc

    def get(self, url: str, timeout: float = 60) -> str:
        def fetch() -> str:
            with NO_PROXY.open(url, timeout=timeout) as reply:
                return reply.read().decode("utf-8")
        return call_in(self.path, fetch)

    def scrape(self) -> str:
        return self.get(f"http://127.0.0.1:{SERVE_PORT}/metrics")

    def pynetstat_json(self, *args: str) -> list[dict]:
        done = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, LAUNCHER,
                               "-ano", "--json", *args], capture_output=True, text=True,
                              timeout=120, check=True)
        return json.loads(done.stdout)["connections"]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        subprocess.run(["ip", "netns", "del", self.name], check=True)


@pytest.fixture
def scene():
    s = Scene()
    try:
        yield s
    finally:
        s.close()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, labels): value}`` as prometheus_client's parser reads the exposition;
    asserts that no series is given twice."""
    out = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, key
            out[key] = s.value
    return out


def series(found: dict, metric: str, /, **labels: str) -> dict[frozenset, float]:
    """The samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return {key: value for (sample, key), value in found.items()
            if sample == metric and want <= key}


def by_state(found: dict, metric: str, /, **labels: str) -> dict[tuple[str, str, str], float]:
    return {(dict(key)["proto"], dict(key)["family"], dict(key)["state"]): value
            for key, value in series(found, metric, **labels).items()}


def test_scrape_counts_the_sockets_the_test_made(scene):
    holder = scene.holder(b"expholder", queued=1000)
    scene.serve()
    found = samples(scene.scrape())
    # What the holder made: 1 listener, 3 pairs (6 ESTABLISHED ends), 1 UDP socket bound and
    # unconnected (the kernel's CLOSE); 1000 bytes unread on one accepted socket.
    expected = {("tcp", "ipv4", "LISTEN"): 1, ("tcp", "ipv4", "ESTABLISHED"): 6,
                ("udp", "ipv4", "CLOSE"): 1}
    assert by_state(found, "pynetstat_process_sockets", process="expholder") == expected
    # The same predicate over -ano --json of the namespace (owners by PID, as -o sees them).
    rows = scene.pynetstat_json()
    mine = [r for r in rows if r["pid"] == holder.pid]
    assert Counter((r["proto"], r["family"], r["kernel_state"]) for r in mine) == expected
    assert series(found, "pynetstat_process_receive_queue_bytes", process="expholder") == {
        frozenset({("process", "expholder")}): 1000.0}
    assert sum(r["recv_q"] for r in mine if r["kernel_state"] == "ESTABLISHED") == 1000
    assert series(found, "pynetstat_process_send_queue_bytes", process="expholder") == {
        frozenset({("process", "expholder")}): 0.0}
    listeners = series(found, "pynetstat_listeners", process="expholder")
    assert sorted(dict(key)["proto"] + " " + dict(key)["address"] + ":" + dict(key)["port"]
                  for key in listeners) == ["tcp 127.0.0.1:4101", "udp 127.0.0.1:4101"]
    exe = os.path.basename(os.path.realpath(sys.executable))
    assert {dict(key)["executable"] for key in listeners} == {exe}
    assert set(listeners.values()) == {1.0}
    # Every socket of the namespace, by kind and state, as the JSON lists them (the scrape's
    # own connection and the exporter's listener included, read in the same namespace).
    totals = by_state(found, "pynetstat_sockets")
    json_totals = Counter((r["proto"], r["family"], r["kernel_state"]) for r in rows)
    assert totals[("tcp", "ipv4", "LISTEN")] == json_totals[("tcp", "ipv4", "LISTEN")] == 2
    assert totals[("udp", "ipv4", "CLOSE")] == json_totals[("udp", "ipv4", "CLOSE")] == 1
    # -s and -e: the namespace's lo, and the kernel's counter names
    assert series(found, "pynetstat_interface_rx_bytes_total", interface="lo")
    assert series(found, "pynetstat_protocol_mib_total", group="Tcp", name="ActiveOpens")
    assert series(found, "pynetstat_protocol_mib_value", group="Tcp", name="CurrEstab")
    assert series(found, "pynetstat_source_info", proto="tcp", source="netlink")
    assert all(value == 0 for value in series(found, "pynetstat_scrape_errors_total").values())


def test_filters_narrow_what_is_exported(scene):
    scene.holder(b"expholder")
    scene.holder(b"expother", port=4102)
    scene.serve("--lport", str(HOLDER_PORT), "-p", "tcp")
    found = samples(scene.scrape())
    # --lport 4101 -p tcp: the listener and the 3 accepted ends (local port 4101), nothing of
    # the other holder, of UDP or of the exporter's own listener.
    assert by_state(found, "pynetstat_sockets") == {("tcp", "ipv4", "LISTEN"): 1,
                                                    ("tcp", "ipv4", "ESTABLISHED"): 3}
    assert {dict(key)["process"] for key in series(found, "pynetstat_process_sockets")} == {
        "expholder"}


HOSTILE = b'x"} 1\n\xff\\y\x1b'  # quotes, a fake sample, a newline, invalid UTF-8, ESC


def test_hostile_process_name_gives_valid_exposition(scene):
    scene.holder(HOSTILE, conns=1)
    scene.serve()
    text = scene.scrape()
    text.encode("utf-8")  # valid UTF-8 whatever the process is called
    found = samples(text)  # parses, one sample per series
    shown = safe(HOSTILE)
    assert shown == 'x"} 1\\n\\xff\\\\y\\x1b'
    assert by_state(found, "pynetstat_process_sockets", process=shown) == {
        ("tcp", "ipv4", "LISTEN"): 1, ("tcp", "ipv4", "ESTABLISHED"): 2,
        ("udp", "ipv4", "CLOSE"): 1}
    assert len(series(found, "pynetstat_listeners", process=shown)) == 2
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr


def test_a_listener_from_a_deleted_executable_is_labelled_as_the_rule_expects(scene, tmp_path):
    # prometheus/pynetstat.rules.yml: PynetstatListenerFromDeletedExecutable matches
    # executable=~".* \\(deleted\\)"
    copy = tmp_path / "expdeleted"
    shutil.copy2(os.path.realpath(sys.executable), copy)
    proc = scene.start([str(copy), "-c", HOLDER, b"expdel".hex(), "4103", "0", "0"],
                       stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "ready"
    copy.unlink()
    scene.serve()
    listeners = series(samples(scene.scrape()), "pynetstat_listeners", process="expdel")
    assert {dict(key)["executable"] for key in listeners} == {"expdeleted (deleted)"}
    assert len(listeners) == 2  # TCP and UDP on 4103


def test_sigterm_and_ctrl_c_end_quietly_and_close_the_listener(scene):
    for signum, status in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        proc = scene.serve()
        scene.scrape()
        # ip netns exec execs the command: the PID is the exporter's own
        os.kill(proc.pid, signum)
        assert proc.wait(timeout=30) == status
        assert proc.stderr.read() == ""

        def refused() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", SERVE_PORT)) != 0
        assert call_in(scene.path, refused)


def test_port_in_use_and_bad_address_say_one_line(scene):
    first = scene.serve()
    second = scene.start([sys.executable, LAUNCHER, "--serve", f"127.0.0.1:{SERVE_PORT}"],
                         stderr=subprocess.PIPE)
    assert second.wait(timeout=60) == 2
    assert second.stderr.read() == (f"pynetstat: cannot serve on 127.0.0.1:{SERVE_PORT}: "
                                    "Address already in use\n")
    assert first.poll() is None
    for bad, why in (("localhost:80", "a numeric IPv4 address or [IPv6] address"),
                     ("127.0.0.1:0", "a port from 1 to 65535"),
                     ("::1:80", "a numeric IPv4 address or [IPv6] address")):
        done = subprocess.run([sys.executable, LAUNCHER, "--serve", bad], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2
        assert done.stderr.splitlines()[0] == (f"pynetstat: invalid --serve address {bad!r}: "
                                               f"expected ADDR:PORT with {why} (default "
                                               "127.0.0.1:9817)")
        assert "Traceback" not in done.stderr


def test_without_the_extra_one_line_exit_2(tmp_path):
    # A prometheus_client that cannot be imported, ahead of the installed one.
    (tmp_path / "prometheus_client").mkdir()
    (tmp_path / "prometheus_client" / "__init__.py").write_text("raise ImportError('absent')\n")
    done = subprocess.run([sys.executable, LAUNCHER, "--serve"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", "pynetstat: --serve needs prometheus_client: pip install 'pynetstat[exporter]'\n")


PROMETHEUS_CONFIG = f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s  # the exporter answers within 0.5 s (PYNETSTAT_SCRAPE_WAIT), stale if it must
scrape_configs:
  - job_name: pynetstat
    static_configs:
      - targets: ['127.0.0.1:{SERVE_PORT}']
"""


def _wait_for(what, check, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Prometheus: {what} within {timeout} s")
        time.sleep(0.3)


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus is not installed (Debian package prometheus; .ci/run installs it)")
def test_real_prometheus_sees_a_listener_appear_and_vanish(scene):
    # A loaded machine may take longer than the scrape timeout to read every process's fds.
    scene.serve(environ={"PYNETSTAT_SCRAPE_WAIT": "0.5"})
    with tempfile.TemporaryDirectory(prefix="EXP-prom-") as tmp:
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(PROMETHEUS_CONFIG)
        scene.start(["prometheus", f"--config.file={config}",
                     f"--storage.tsdb.path={tmp}/data", "--web.listen-address=127.0.0.1:9090"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def query(promql: str) -> list:
            url = "http://127.0.0.1:9090/api/v1/query?" + urllib.parse.urlencode({"query": promql})
            try:
                reply = json.loads(scene.get(url, timeout=10))
            except (OSError, urllib.error.URLError):
                return []  # not up yet
            assert reply["status"] == "success", reply
            return reply["data"]["result"]

        listener = f'pynetstat_listeners{{port="{HOLDER_PORT}",proto="tcp"}}'
        assert not query(listener)
        holder = scene.holder(b"expholder")
        result = _wait_for("the holder's listener", lambda: query(listener))
        assert len(result) == 1
        assert result[0]["metric"]["process"] == "expholder"
        assert result[0]["value"][1] == "1"
        established = _wait_for("its connections", lambda: query(
            'pynetstat_process_sockets{process="expholder",state="ESTABLISHED"}'))
        assert established[0]["value"][1] == "6"
        holder.kill()
        holder.wait()
        _wait_for("the listener gone", lambda: not query(listener))


@pytest.mark.slow
def test_concurrent_scrapes_share_the_scan_in_flight(scene):
    import threading

    scene.holder(b"expholder", conns=2000)
    scene.serve()

    def scans() -> float:
        return samples(scene.scrape())[("pynetstat_scans_total", frozenset())]

    before = scans()
    start = threading.Barrier(20)
    answers: list[str] = []

    def scrape() -> None:
        start.wait()
        answers.append(scene.scrape())
    threads = [threading.Thread(target=scrape) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 20
    for text in answers:
        assert by_state(samples(text), "pynetstat_process_sockets", process="expholder")[
            ("tcp", "ipv4", "ESTABLISHED")] == 4000
    # 20 scrapes at once: each waits for the scan in flight (if any) and shares it
    made = scans() - before - 1
    assert 1 <= made <= 10, made


def test_the_listener_queues_a_burst_of_scrapes(scene):
    # 50 scrapers at once must not overflow the accept queue (socketserver's backlog is 5):
    # a listener's Send-Q is its backlog, as ss shows it
    scene.serve()
    out = subprocess.run(["ip", "netns", "exec", scene.name, "ss", "-Hltn", "sport", "=",
                          f":{SERVE_PORT}"], check=True, capture_output=True, text=True,
                         timeout=60).stdout.split()
    assert (out[0], out[2], out[3]) == ("LISTEN", "128", f"127.0.0.1:{SERVE_PORT}")


def test_docs_list_every_metric(scene):
    import re

    scene.holder(b"expholder")
    # every family: --info's per-process TCP counters and --audit's findings too
    scene.serve("--info", "--audit", environ={"PYNETSTAT_SCRAPE_WAIT": "120"})
    names = {family.name for family in parser.text_string_to_metric_families(scene.scrape())}
    with open(os.path.join(os.path.dirname(TESTS), "docs", "metrics.md"), encoding="utf-8") as f:
        docs = f.read()
    table = set(re.findall(r"^\| `(pynetstat_\w+)` \|", docs, re.M))
    fields = re.search(r"FIELD is (.*?); RTM_GETLINK", docs).group(1)
    documented = {name.removesuffix("_total") for name in table if "FIELD" not in name}
    documented |= {f"pynetstat_interface_{field}" for field in re.findall(r"`(\w+)`", fields)}
    # the parser names a counter's family without its _total; the netns families:
    # tests/test_serve_netns.py and tests/test_serve_allnetns.py
    assert names == documented - {"pynetstat_netns_info", "pynetstat_netns_unread",
                                  "pynetstat_netns_unseen_processes"}


def test_a_scrape_that_cannot_wait_answers_with_the_last_scan_marked_stale(scene):
    scene.serve(environ={"PYNETSTAT_SCRAPE_WAIT": "0"})
    first = samples(scene.scrape())  # no scan before it: it waits for its own
    assert first[("pynetstat_stale", frozenset())] == 0
    assert first[("pynetstat_scans_total", frozenset())] == 1
    second = samples(scene.scrape())  # starts a scan, waits 0 s: the first scan's values
    assert second[("pynetstat_stale", frozenset())] == 1
    assert second[("pynetstat_scans_total", frozenset())] == 1
    assert by_state(second, "pynetstat_sockets") == by_state(first, "pynetstat_sockets")


def _certificate(directory, name: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files), made by openssl."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_and_client_certificates(scene, tmp_path):
    import ssl

    cert, key = _certificate(tmp_path, "server")
    client_cert, client_key = _certificate(tmp_path, "client")
    url = f"https://127.0.0.1:{SERVE_PORT}/metrics"

    def get(context: ssl.SSLContext) -> str:
        def fetch() -> str:
            with urllib.request.urlopen(url, timeout=60, context=context) as reply:
                return reply.read().decode("utf-8")
        return call_in(scene.path, fetch)

    trusting = ssl.create_default_context(cafile=cert)
    proc = scene.start([sys.executable, LAUNCHER, "--serve", f"127.0.0.1:{SERVE_PORT}",
                        "--serve-cert", cert, "--serve-key", key], stderr=subprocess.PIPE)
    assert proc.stderr.readline() == (f"pynetstat: serving metrics on https://127.0.0.1:"
                                      f"{SERVE_PORT}/metrics\n")
    assert ("pynetstat_scans_total", frozenset()) in samples(get(trusting))
    with pytest.raises(urllib.error.URLError):  # another certificate: not trusted
        get(ssl.create_default_context(cafile=client_cert))
    proc.terminate()
    assert proc.wait(timeout=30) == 143

    proc = scene.start([sys.executable, LAUNCHER, "--serve", f"127.0.0.1:{SERVE_PORT}",
                        "--serve-cert", cert, "--serve-key", key, "--serve-client-ca",
                        client_cert], stderr=subprocess.PIPE)
    assert "https://" in proc.stderr.readline()
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        get(trusting)  # no client certificate
    trusting.load_cert_chain(client_cert, client_key)
    assert ("pynetstat_scans_total", frozenset()) in samples(get(trusting))
    # a certificate that cannot be read: one line, exit 2
    done = subprocess.run([sys.executable, LAUNCHER, "--serve", "127.0.0.1:9818", "--serve-cert",
                           str(tmp_path / "absent.pem"), "--serve-key", key],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("pynetstat: cannot serve on 127.0.0.1:9818: Cannot load "
                                  "server certificate file")
    assert done.stderr.count("\n") == 1


def test_a_scan_makes_no_peer_join():
    """The exporter's series never name the other end of a connection: its scans skip the peer
    join, which holds the whole dump until its end (peak RSS 66 -> 136 MiB at 200k sockets) and
    costs 16-18% more CPU. A listing of the same sockets with -b --json joins them."""
    import io

    from pynetstat.cli import parse_args
    from pynetstat.env import Environment
    from pynetstat.linux.connections import collect
    from pynetstat.modes.serve import scan_options
    from pynetstat.session import Session

    lst = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    port = lst.getsockname()[1]

    def peers(opts):
        session = Session(opts, Environment(io.StringIO(), io.StringIO()))
        try:
            conns = collect(opts, session.env, session.netlink)
            return [peer for batch in conns if batch.SHAPE == "inet" and batch.peer is not None
                    for peer, lport, rport in zip(batch.peer, batch.local_port, batch.remote_port)
                    if port in (lport, rport) and peer]
        finally:
            session.close()

    try:
        listing = parse_args(["-anob", "--json", "--port", str(port)])
        assert len(peers(listing)) == 2  # each end of the pair names the other
        assert peers(scan_options(parse_args(["--serve", "--port", str(port)]))) == []
    finally:
        for s in (lst, client, server):
            s.close()
