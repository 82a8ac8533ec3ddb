"""--serve --audit (issue 19): the audit's findings as metrics, so an alert rule can page on a
reverse shell. Live, in a network namespace made by the test (tests/test_serve.py's Scene): a
shell whose standard input and output are one end of a loopback TCP connection, the audit's sign
3, must show as ``pynetstat_audit_findings{sign="shell-on-socket",severity="alert",
process="sh"}``; the counts by severity are always there, and the findings are those that
``pynetstat --audit --json`` gives in the same namespace."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import LAUNCHER
from test_serve import Scene, pytestmark, samples, series  # noqa: F401  (pytestmark: root, ip)

REVERSE_SHELL = r"""
import socket, subprocess, time
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname())
conn, _ = server.accept()
server.close()
shell = subprocess.Popen(["/bin/sh"], stdin=conn, stdout=conn)
conn.close()
print(shell.pid, flush=True)
time.sleep(600)
"""


def test_audit_findings_are_metrics():
    scene = Scene()
    try:
        holder = scene.start([sys.executable, "-c", REVERSE_SHELL], stdout=subprocess.PIPE)
        shell_pid = int(holder.stdout.readline())
        scene.serve("--audit", environ={"PYNETSTAT_SCRAPE_WAIT": "120"})
        found = samples(scene.scrape())
        shells = series(found, "pynetstat_audit_findings", sign="shell-on-socket")
        assert shells == {frozenset({("sign", "shell-on-socket"), ("severity", "alert"),
                                     ("process", "sh")}): 1}, shells
        severities = {dict(k)["severity"]: v for k, v in
                      series(found, "pynetstat_audit_findings_by_severity").items()}
        assert set(severities) == {"alert", "warning", "info"}
        # the same findings as the audit itself gives, in the same namespace
        audit = subprocess.run(["ip", "netns", "exec", scene.name, sys.executable, LAUNCHER,
                                "--audit", "--json"], capture_output=True, text=True,
                               timeout=120)
        findings = json.loads(audit.stdout)["findings"]
        assert any(f["sign"] == "shell-on-socket" and f["process"]["pid"] == shell_pid
                   for f in findings)
        by_sign: dict = {}
        for f in findings:
            by_sign[(f["sign"], f["severity"])] = by_sign.get((f["sign"], f["severity"]), 0) + 1
        exported: dict = {}
        for key, value in series(found, "pynetstat_audit_findings").items():
            labels = dict(key)
            pair = (labels["sign"], labels["severity"])
            exported[pair] = exported.get(pair, 0) + value
        # host-wide facts can change between the two readings: compare the sign at stake
        assert exported[("shell-on-socket", "alert")] == by_sign[("shell-on-socket", "alert")]
        assert sum(severities.values()) == sum(exported.values())
        errors = series(found, "pynetstat_scrape_errors_total", stage="audit")
        assert list(errors.values()) == [0]
    finally:
        scene.close()


def test_without_audit_no_audit_series():
    scene = Scene()
    try:
        scene.serve()
        found = samples(scene.scrape())
        assert not any(metric.startswith("pynetstat_audit_") for metric, _ in found)
        assert not series(found, "pynetstat_scrape_errors_total", stage="audit")
    finally:
        scene.close()
