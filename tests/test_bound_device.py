"""A listener bound to a device (SO_BINDTODEVICE) shows the device on its local address, as ss
does: ``0.0.0.0%va:7060``, ``[::%va]:7061`` (issue 11 item 5). JSON had it already
(``"interface"``); the text lost it.

Needs a network namespace (root): the test makes one with a veth pair ``va``-``vb`` and runs the
listeners and pynetstat inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip is not installed"),
]

LISTENERS = textwrap.dedent("""
    import socket, sys
    held = []
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(family, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"va")
            s.bind((host, 0))
            if kind == socket.SOCK_STREAM:
                s.listen()
            held.append(s)
            print(s.getsockname()[1], flush=True)
    sys.stdin.read()
""")


@pytest.fixture(scope="module")
def bound():
    name = f"pnst-dev-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    listener = None
    try:
        for cmd in (["link", "add", "va", "type", "veth", "peer", "name", "vb"],
                    ["link", "set", "lo", "up"], ["link", "set", "vb", "up"],
                    ["link", "set", "va", "up"]):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        listener = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", LISTENERS],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ports = [int(listener.stdout.readline()) for _ in range(4)]
        yield name, ports
    finally:
        if listener is not None:
            listener.stdin.close()
            listener.wait(timeout=5)
        subprocess.run(["ip", "netns", "del", name], check=False)


def _pynetstat(netns: str, *argv: str) -> str:
    run = ["ip", "netns", "exec", netns, sys.executable, os.path.join(REPO, "pynetstat"), *argv]
    return subprocess.run(run, capture_output=True, text=True, check=True).stdout


def test_bound_listener_shows_its_device(bound):
    netns, (tcp4, udp4, tcp6, udp6) = bound
    rows = {tuple(line.split()) for line in _pynetstat(netns, "-an").splitlines()}
    assert ("TCP", f"0.0.0.0%va:{tcp4}", "0.0.0.0:0", "LISTENING") in rows
    assert ("UDP", f"0.0.0.0%va:{udp4}", "*:*") in rows
    assert ("TCP", f"[::%va]:{tcp6}", "[::]:0", "LISTENING") in rows
    assert ("UDP", f"[::%va]:{udp6}", "*:*") in rows
    doc = json.loads(_pynetstat(netns, "-an", "--json"))
    assert {c["local_port"]: c["interface"] for c in doc["connections"]} == dict.fromkeys(
        (tcp4, udp4, tcp6, udp6), "va")


@pytest.mark.skipif(shutil.which("ss") is None, reason="iproute2's ss is not installed")
def test_ipv4_local_address_is_what_ss_prints(bound):
    netns, (tcp4, udp4, _, _) = bound
    ss = subprocess.run(["ip", "netns", "exec", netns, "ss", "-Han4"], capture_output=True,
                        text=True, check=True).stdout
    theirs = {line.split()[4] for line in ss.splitlines()}
    ours = {line.split()[1] for line in _pynetstat(netns, "-an").splitlines()
            if line.startswith(("  TCP", "  UDP")) and "." in line.split()[1]}
    assert ours == theirs == {f"0.0.0.0%va:{tcp4}", f"0.0.0.0%va:{udp4}"}
