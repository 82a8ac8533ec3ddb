"""TCP of both families in one sock_diag dump (``TCPDIAG_GETSOCK``, ``linux/sockets.JOINT``,
issue 15): the same sockets, each family in the same order, as the two per-family dumps; a
kernel or a recording that refuses it gets the per-family dumps, with nothing said; a joint dump
that breaks off keeps what came and says so for both families.

The recording tests/fixtures/linux/conn-joint was made by ``tests/fixtures/record.py --joint``:
the four per-family dumps and the joint one, back to back, of the recorder's scene (every TCP
state over IPv4, IPv6 and IPv4-mapped IPv6).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest
from record import read_nl

from conftest import FIXTURES, run_inprocess
from pynetstat.kinds import ALL_STATES, BY_NAME
from pynetstat.linux.netlink import DumpStats, LiveNetlink, ReplayNetlink, write_recording
from pynetstat.linux.nsenter import call_in
from pynetstat.linux.procfs import ProcFS
from pynetstat.linux.sockdiag import (
    TCPDIAG_GETSOCK,
    both_families_request,
    build_request,
    decode_batches,
)
from pynetstat.linux.sockets import SourceLog, iter_batches

JOINT = os.path.join(FIXTURES, "linux", "conn-joint")
NETLINK = os.path.join(JOINT, "netlink")

with open(os.path.join(JOINT, "meta.json")) as _f:
    _ORDER = json.load(_f)["byteorder"]


def _rows(batches) -> list[tuple]:
    return [(s.family, s.state, s.local_address, s.local_port, s.remote_address, s.remote_port,
             s.inode, s.cookie) for batch in batches for s in batch.sockets()]


class Asking:
    """A source that notes the key of every request it passes on."""

    def __init__(self, source):
        self.source = source
        self.asked: list[str] = []

    def dump(self, request):
        self.asked.append(request.key)
        return self.source.dump(request)

    def close(self) -> None:
        self.source.close()


def _replay(directory: str, *argv: str) -> tuple:
    source = Asking(ReplayNetlink(directory))
    result = run_inprocess(list(argv), environ={}, proc_root=os.path.join(JOINT, "proc"),
                           netlink=source)
    return result, source.asked


@pytest.mark.skipif(sys.byteorder != _ORDER, reason="recorded in the other byte order")
def test_the_recorded_joint_dump_is_both_per_family_dumps():
    replay = ReplayNetlink(NETLINK)
    seq, chunks = read_nl(os.path.join(NETLINK, "sock_diag-tcp46.nl"))
    first = struct.unpack_from("=IHHI", chunks[0])
    assert first[1] == TCPDIAG_GETSOCK  # the kernel answers in the request's type
    stats = DumpStats()
    joint = _rows(decode_batches(replay.dump(both_families_request()), "tcp", 0, stats,
                                 msg_type=TCPDIAG_GETSOCK))
    apart = {family: _rows(decode_batches(replay.dump(build_request(family, "tcp")), "tcp",
                                          family, DumpStats()))
             for family in (4, 6)}
    assert apart[4] and apart[6]
    assert [r for r in joint if r[0] == 4] == apart[4]
    assert [r for r in joint if r[0] == 6] == apart[6]
    assert (stats.malformed, stats.foreign, stats.messages) == (0, 0, len(joint))
    families = [r[0] for r in joint]
    assert families != sorted(families), "the recording should interleave the families"


@pytest.mark.skipif(sys.byteorder != _ORDER, reason="recorded in the other byte order")
@pytest.mark.parametrize("argv", [["-an"], ["-an", "--json"], ["-an", "-p", "TCPv6"]])
def test_one_request_for_tcp_and_the_same_rows_as_two(tmp_path, argv):
    older = tmp_path / "netlink"  # a recording made before the joint request: no tcp46 file
    shutil.copytree(NETLINK, older)
    (older / "sock_diag-tcp46.nl").unlink()
    joint, asked = _replay(NETLINK, *argv)
    apart, asked_apart = _replay(str(older), *argv)
    assert joint.status == apart.status == 0
    assert joint.err == apart.err == ""
    if "--json" in argv:
        one, two = json.loads(joint.out), json.loads(apart.out)
        one.pop("timestamp", None)
        two.pop("timestamp", None)
        assert one == two
        assert one["sources"]["tcp"] == one["sources"]["tcp6"] == "netlink"
    else:
        assert joint.out == apart.out
    tcp = [key for key in asked if key.startswith("sock_diag-tcp")]
    if "-p" in argv:  # one family only: its own dump
        assert tcp == ["sock_diag-tcp6"]
    else:
        assert tcp == ["sock_diag-tcp46"]
        assert [key for key in asked_apart if key.startswith("sock_diag-tcp")] == [
            "sock_diag-tcp46", "sock_diag-tcp", "sock_diag-tcp6"]


@pytest.mark.skipif(sys.byteorder != _ORDER, reason="recorded in the other byte order")
def test_a_filter_on_ports_goes_into_the_joint_dump():
    """Ports and states make the same program for both families: one dump carries it."""
    result, asked = _replay(NETLINK, "-an", "--port", "1-65535")
    assert result.status == 0
    assert [key for key in asked if key.startswith("sock_diag-tcp")] == ["sock_diag-tcp46"]


@pytest.mark.skipif(sys.byteorder != _ORDER, reason="recorded in the other byte order")
def test_a_joint_dump_that_breaks_off_keeps_what_came_and_says_so(tmp_path):
    cut = tmp_path / "netlink"
    shutil.copytree(NETLINK, cut)
    seq, chunks = read_nl(os.path.join(NETLINK, "sock_diag-tcp46.nl"))
    # Keep the first chunk's messages up to a message boundary, before NLMSG_DONE: the reply
    # stops between two messages, which nothing but the missing NLMSG_DONE tells.
    first = chunks[0]
    off, ends = 0, []
    while off + 16 <= len(first):
        length, mtype = struct.unpack_from("=IH", first, off)
        if mtype != TCPDIAG_GETSOCK:
            break
        off += (length + 3) & ~3
        ends.append(off)
    assert len(ends) > 4
    write_recording(str(cut / "sock_diag-tcp46.nl"), seq, [first[: ends[len(ends) // 2]]])
    whole, _ = _replay(NETLINK, "-an", "--json")
    broken, asked = _replay(str(cut), "-an", "--json")
    assert broken.status == 0
    doc = json.loads(broken.out)
    assert doc["sources"]["tcp"] == doc["sources"]["tcp6"] == "netlink (incomplete)"
    assert "sock_diag-tcp" not in asked and "sock_diag-tcp6" not in asked
    listed = [c for c in json.loads(whole.out)["connections"] if c["proto"].startswith("tcp")]
    kept = [c for c in doc["connections"] if c["proto"].startswith("tcp")]
    assert 0 < len(kept) < len(listed)
    assert all(c in listed for c in kept)
    assert "the tcp dump broke off" in broken.err and "the tcp6 dump broke off" in broken.err


# --- the live kernel ------------------------------------------------------------------------

def _scene() -> list[socket.socket]:
    """Listeners and connections over IPv4, IPv6 and IPv4-mapped IPv6, in this namespace."""
    held = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")) * 5:
        srv = socket.create_server((host, 0), family=family)
        cli = socket.create_connection(srv.getsockname()[:2])
        held += [srv, cli, srv.accept()[0]]
    dual = socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True)
    mapped = socket.create_connection(("127.0.0.1", dual.getsockname()[1]))
    held += [dual, mapped, dual.accept()[0]]
    closing = socket.create_connection(held[0].getsockname())
    held.append(held[0].accept()[0])
    closing.close()  # FIN_WAIT2 on one end, CLOSE_WAIT on the other
    return held


def _listed(netlink, joint: bool, states: int) -> tuple[list, SourceLog]:
    log = SourceLog()
    listed = [(BY_NAME["tcp"], states), (BY_NAME["tcp6"], states)]
    rows = _rows(iter_batches(listed, netlink, ProcFS("/proc"), log, joint=joint))
    return rows, log


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a namespace")
def test_live_joint_dump_lists_what_the_two_dumps_list():
    """In a namespace of our own (no one else's sockets come and go in it): the joint dump and
    the per-family dumps, for every state and for the listening ones alone."""
    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && echo up "
                               "&& exec sleep 60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "up"
        path = f"/proc/{holder.pid}/ns/net"

        def inside():
            held = _scene()
            netlink = LiveNetlink()  # its socket is made on the first dump, in here
            try:
                out = {}
                for states in (ALL_STATES, 1 << 10):  # every state; TCP_LISTEN alone
                    for _ in range(40):
                        # The closed end moves from FIN_WAIT1 to FIN_WAIT2 when its FIN is
                        # acknowledged, which a loaded host may do between two dumps: ask
                        # again until the two ways agree (a real difference would persist).
                        out[states] = (_listed(netlink, True, states),
                                       _listed(netlink, False, states))
                        if out[states][0][0] == out[states][1][0]:
                            break
                        time.sleep(0.05)
                return out
            finally:
                netlink.close()
                for sock in held:
                    sock.close()

        for states, ((joint, log), (apart, _)) in call_in(path, inside).items():
            assert joint == apart
            assert {r[0] for r in joint} == {4, 6}
            assert log.sources == {"tcp": "netlink", "tcp6": "netlink"}
            assert not log.fallback_reasons
            if states == ALL_STATES:
                assert len(joint) == 3 * 10 + 3 + 2
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a namespace")
def test_live_joint_dump_runs_the_port_program_in_the_kernel():
    """In a namespace of our own: a port filter is one joint dump whose program the kernel runs
    (the raw dump holds the matching sockets of both families and nothing else), and the
    listing shows exactly those sockets."""
    from pynetstat.cli import parse_args
    from pynetstat.linux.bytecode import compile_terms

    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && echo up "
                               "&& exec sleep 60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "up"

        def inside():
            held = _scene()
            ports = [held[0].getsockname()[1], held[3].getsockname()[1]]  # a v4, a v6 listener
            argv = ["-an", "--port", ",".join(map(str, ports))]
            program = compile_terms(parse_args(argv).filter.bind(None).kernel_terms, 4, None)
            netlink = LiveNetlink()
            try:
                raw = _rows(decode_batches(netlink.dump(both_families_request(ALL_STATES, 0,
                                                                              program)),
                                           "tcp", 0, DumpStats(), msg_type=TCPDIAG_GETSOCK))
                source = Asking(netlink)
                listing = run_inprocess([*argv, "--json"], environ={}, netlink=source)
                everything = _rows(decode_batches(netlink.dump(both_families_request()), "tcp",
                                                  0, DumpStats(), msg_type=TCPDIAG_GETSOCK))
                return ports, raw, everything, json.loads(listing.out), source.asked
            finally:
                netlink.close()
                for sock in held:
                    sock.close()

        ports, raw, everything, doc, asked = call_in(f"/proc/{holder.pid}/ns/net", inside)
        want = [r for r in everything if r[3] in ports or r[5] in ports]
        assert len(want) == 3 + 3 + 2  # each listener, its two ends, the extra pair on the first

        def ids(rows):  # without the state: the closed end may go FIN_WAIT1 -> 2 between dumps
            return sorted(tuple(r[:1]) + tuple(r[2:]) for r in rows)

        assert ids(raw) == ids(want)
        assert len(everything) > len(want)
        assert [k for k in asked if k.startswith("sock_diag-tcp")] == ["sock_diag-tcp46"]
        shown = sorted((c["local_port"], c["remote_port"], c["inode"])
                       for c in doc["connections"] if c["proto"].startswith("tcp"))
        assert shown == sorted((r[3], r[5], r[6]) for r in want)
    finally:
        holder.kill()
        holder.wait()
