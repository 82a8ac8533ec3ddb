"""``-v`` in the net-tools face (issue 18), as net-tools 2.10 means it: the address families it
tries and the system lacks, on stderr, word for word ("netstat: no support for `AF IPX' on this
system."), named kinds always, the others with -v only; and, with -v, the families that have
sockets here which the face does not list (UDP-Lite). Compared with /usr/bin/netstat's stderr for
the same options in a network namespace the test makes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from attack.sandbox import CLONE_NEWNET, in_child, unshare  # noqa: E402
from helpers import run_inprocess  # noqa: E402

NETSTAT = "/usr/bin/netstat"
pytestmark = [pytest.mark.root, pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(NETSTAT),
    reason="needs root (network namespaces) and net-tools netstat")]

VIEWS = ("-v", "-va", "-vl", "-vn", "-vx", "-vtu", "-v4", "-va6", "-vg", "-vg4", "-vw", "-vxw",
         "", "-a", "-t", "-vs", "-vr", "-vi")


def _stderr(view: str) -> tuple[str, str, int]:
    args = [view] if view else []
    theirs = subprocess.run([NETSTAT, *args], capture_output=True, text=True,
                            env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})
    ours = run_inprocess(["--nettools", *args, "-n"] if "n" not in view else ["--nettools", *args])
    return theirs.stderr, ours.err, ours.status


@pytest.fixture(scope="module")
def outputs():
    def run():
        import socket

        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        lite = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136)  # IPPROTO_UDPLITE
        lite.bind(("127.0.0.1", 0))
        found = {view: _stderr(view) for view in VIEWS}
        udpl = subprocess.run([NETSTAT, "-an"], capture_output=True, text=True).stdout
        lite.close()
        return found, udpl
    return in_child(run, setup=lambda: unshare(CLONE_NEWNET), timeout=300)


@pytest.mark.parametrize("view", VIEWS)
def test_no_support_lines_are_nettools(outputs, view):
    theirs, ours, status = outputs[0][view]
    assert status == 0, ours
    mine = [line for line in ours.splitlines() if line.startswith("netstat: ")]
    assert mine == theirs.splitlines()


def test_the_scene_has_missing_families(outputs):
    """(else the comparisons above compare nothing)"""
    assert outputs[0]["-v"][0] and outputs[0]["-t"][0] == ""


def test_verbose_says_what_is_not_listed(outputs):
    """A UDP-Lite socket: net-tools lists it (udpl), the face does not; -v says so, with the
    count; without -v the listing is as before."""
    found, udpl = outputs
    assert any(line.startswith("udpl ") for line in udpl.splitlines())
    for view in ("-v", "-va"):
        assert ("pynetstat-netstat: AF INET (udplite): 1 sockets in /proc/net/udplite, which "
                "pynetstat does not list.") in found[view][1].splitlines()
    assert "udplite" not in found["-a"][1] and "udplite" not in found["-vx"][1]


def test_a_named_kind_whose_table_is_missing_is_said_without_v(tmp_path):
    """A /proc without net/raw and net/unix (a recorded or reduced one): -w and -x say so as
    net-tools does, even without -v; -t does not (its table is there)."""
    net = tmp_path / "net"
    net.mkdir()
    for name in ("tcp", "tcp6", "udp", "udp6"):
        (net / name).write_text("  sl  local_address rem_address   st\n")
    result = run_inprocess(["--nettools", "-wxn"], proc_root=tmp_path)
    assert result.status == 0
    assert [line for line in result.err.splitlines() if line.startswith("netstat: ")] == [
        "netstat: no support for `AF INET (raw)' on this system.",
        "netstat: no support for `AF UNIX' on this system."]
    assert "netstat: " not in run_inprocess(["--nettools", "-tn"], proc_root=tmp_path).err
