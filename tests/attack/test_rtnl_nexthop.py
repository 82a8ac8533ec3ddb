"""The nexthop dump loses nothing without a word (issue 11 item 1), as the route dumps do.

The kernel double replays the stats-nexthop recording (routes that carry only RTA_NH_ID) and
misbehaves on the RTM_GETNEXTHOP dump alone: interrupted (asked again, then said), cut between
messages (not used: the routes it should have resolved are said to be unknown), cut inside a
message (said). Any bytes in that dump give records or our errors, never a crash or a loop.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pynetstat.linux import netlink
from pynetstat.linux.netlink import DumpStats, Reply
from pynetstat.linux.nexthop import NEXTHOP_KEY, decode_nexthops

from .check import run_inprocess
from .kernel import FIXTURES, FakeKernel, FakeProc
from .test_parsers_property import PROPERTY, timed
from .test_rtnl_dumps import flag_intr, is_done, split

RTNL = FIXTURES / "linux" / "stats-nexthop" / "netlink"


@pytest.fixture
def tree():
    d = tempfile.mkdtemp(prefix="pynetstat-nh-")
    yield FakeProc(Path(d))
    shutil.rmtree(d, ignore_errors=True)


def kernel(fault=None) -> FakeKernel:
    return FakeKernel(rtnl_dir=RTNL, fault=lambda k, chunks, seq: (
        fault(chunks) if fault is not None and k == NEXTHOP_KEY else chunks))


def test_one_nexthop_dump_and_quiet(tree):
    k = kernel()
    result = run_inprocess(["-r"], proc_root=tree.root, netlink=k)
    assert result.status == 0 and result.err == ""
    assert k.requests.count(NEXTHOP_KEY) == 1
    k = FakeKernel()  # a host whose routes name no nexthop object: no nexthop dump at all
    assert run_inprocess(["-r"], proc_root=tree.root, netlink=k).status == 0
    assert NEXTHOP_KEY not in k.requests


@pytest.mark.parametrize("times", [1, 4])
def test_interrupted_nexthop_dump(tree, times):
    asked = []

    def fault(chunks):
        asked.append(1)
        if len(asked) > times:
            return chunks
        return [flag_intr(m) if not is_done(m) else m for m in split(chunks)]

    clean = run_inprocess(["-r", "--json"], proc_root=tree.root, netlink=kernel())
    result = run_inprocess(["-r", "--json"], proc_root=tree.root, netlink=kernel(fault))
    assert len(asked) == min(times + 1, 4)
    assert result.out == clean.out  # the last answer is used even when interrupted
    said = [line for line in result.err.splitlines() if "NLM_F_DUMP_INTR" in line]
    assert len(said) == (1 if times == 4 else 0)
    assert all("nexthop table changed" in line for line in said)


def test_nexthop_dump_cut_between_messages(tree):
    result = run_inprocess(["-r", "--json"], proc_root=tree.root,
                           netlink=kernel(lambda chunks: split(chunks)[:1]))
    assert "without NLMSG_DONE" in result.err and "route(s) name nexthop objects" in result.err
    routes = json.loads(result.out)["routes"]["ipv4_routes"]
    hop = next(r for r in routes if r["destination"] == "10.160.0.0")["nexthops"]
    assert hop == [{"gateway": None, "interface": None, "ifindex": None, "weight": 1,
                    "nexthop_id": 10}]


def test_nexthop_dump_cut_inside_a_message(tree):
    def fault(chunks):
        msgs = split(chunks)
        return [b"".join(msgs[:2]) + msgs[2][:20]]

    result = run_inprocess(["-r"], proc_root=tree.root, netlink=kernel(fault))
    said = [line for line in result.err.splitlines() if "malformed netlink" in line]
    assert len(said) == 1 and "nexthop dump" in said[0], result.err


@PROPERTY
@given(st.data())
def test_decode_nexthops_any_bytes(data):
    seq, chunks = netlink.read_recording((RTNL / f"{NEXTHOP_KEY}.nl").read_bytes())
    out = []
    for chunk in chunks:
        b = bytearray(chunk)
        for _ in range(data.draw(st.integers(0, 8))):
            at = data.draw(st.integers(0, len(b) - 1))
            b[at:at + 2] = data.draw(st.sampled_from([0, 1, 3, 4, 5, 6, 8, 0xFFFF, 0x1234])
                                     ).to_bytes(2, "little")
        out.append(bytes(b[:data.draw(st.integers(0, len(b)))]))
    objects = timed(lambda: list(decode_nexthops(Reply(seq, iter(out)), DumpStats()))) or []
    for obj in objects:
        assert 0 <= obj.id < 2**32
        assert obj.group is None or all(1 <= w <= 65536 for _, w in obj.group)
