"""A link-local IPv6 socket carries its interface: ``[fe80::1%v0]:PORT``.

Needs a network namespace (root): the test makes one with a veth pair, gives one end fe80::1,
and runs a listener and pynetstat inside it.
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


@pytest.fixture
def netns():
    name = f"pnst-ll-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                    ["link", "set", "lo", "up"], ["link", "set", "v0", "up"],
                    ["link", "set", "v1", "up"],
                    ["-6", "addr", "add", "fe80::1/64", "dev", "v0", "nodad"]):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


LISTENER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET6)
    s.bind(("fe80::1", 0, 0, socket.if_nametoindex("v0")))
    s.listen()
    print(s.getsockname()[1], flush=True)
    sys.stdin.read()
""")


def test_link_local_listener_shows_its_interface(netns):
    listener = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", LISTENER],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(listener.stdout.readline())
        run = ["ip", "netns", "exec", netns, sys.executable, os.path.join(REPO, "pynetstat")]
        text = subprocess.run([*run, "-anp", "tcpv6"], capture_output=True, text=True, check=True)
        rows = [line.split() for line in text.stdout.splitlines() if f":{port}" in line]
        assert rows == [["TCP", f"[fe80::1%v0]:{port}", "[::]:0", "LISTENING"]]
        doc = json.loads(subprocess.run([*run, "-an", "--json"], capture_output=True, text=True,
                                        check=True).stdout)
        [record] = [c for c in doc["connections"] if c["local_port"] == port]
        assert record["local_address"] == "fe80::1"
        assert record["interface"] == "v0"
        assert record["link_local"] is True
        assert record["proto"] == "tcp6"
    finally:
        listener.stdin.close()
        listener.wait(timeout=5)
