"""-r --changes in a network namespace the test makes (issue 11 item 7): routes get their own
heading, a route whose preferred source changed is one ``~`` line saying what changed (not a
``-``/``+`` pair of identical lines), and ICMP per-type counters that appear count from 0."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from conftest import LAUNCHER
from pynetstat.model.changes import counter_changes, route_changes, route_keys

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a network namespace"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns():
    name = f"pnst-rchg-{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        ip("-n", name, "link", "add", "va", "type", "veth", "peer", "name", "vb")
        ip("-n", name, "link", "set", "vb", "up")
        ip("-n", name, "addr", "add", "10.41.0.1/24", "dev", "va")
        ip("-n", name, "addr", "add", "10.41.0.2/24", "dev", "va")
        ip("-n", name, "link", "set", "va", "up")
        ip("-n", name, "route", "add", "10.42.0.0/16", "dev", "va", "src", "10.41.0.1")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def watch(netns: str, change, *argv: str) -> str:
    """Run ``pynetstat argv`` in the namespace, make ``change`` after its first pass, stop it."""
    p = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, LAUNCHER, *argv],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        change()
        time.sleep(1.2)
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    assert p.returncode == 130, err
    return out


def test_a_changed_preferred_source_is_one_line_saying_what_changed(netns):
    out = watch(netns, lambda: ip("-n", netns, "route", "change", "10.42.0.0/16", "dev", "va",
                                  "src", "10.41.0.2"), "-r", "--changes", "0.3")
    changes = [line for line in out.splitlines() if "10.42.0.0/16" in line]
    assert len(changes) == 1, out
    assert " ~ IPv4 10.42.0.0/16 dev va" in changes[0]
    assert 'preferred_source: "10.41.0.1" -> "10.41.0.2"' in out
    assert "Counter" not in out and "Rate/s" not in out, out  # routes only: no counter heading
    assert "+ added, - removed, ~ changed" in out


def test_route_changes_pairs_by_identity():
    old = {"family": 4, "table": 254, "destination": "10.0.0.0", "prefix_length": 8,
           "metric": 0, "type": "unicast", "prefsrc": "10.0.0.1"}
    new = dict(old, prefsrc="10.0.0.2")
    other = dict(old, destination="10.9.0.0", prefix_length=16)
    got = route_changes(route_keys([old]), route_keys([new, other]))
    assert got == [("changed", new, old), ("added", other, None)]


def test_icmp_counters_that_appear_count_from_zero():
    got = counter_changes("statistics", {"Icmp6.InEchos": 1}, {"Icmp6.InEchos": 1,
                          "Icmp6.InType1": 3}, 1.0, from_zero=True)
    assert [(c.name, c.kind, c.previous, c.delta) for c in got] == [
        ("Icmp6.InType1", "moved", 0, 3)]
