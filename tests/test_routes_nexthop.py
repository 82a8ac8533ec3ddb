"""-r resolves routes that name nexthop objects (issue 11 item 1), from a recording of this
kernel with net.ipv4.nexthop_compat_mode=0 (route messages carry only RTA_NH_ID): every route's
gateway, interface, weight and nexthop ids against `ip -j route show table all` resolved through
`ip -j nexthop show`; one RTM_GETNEXTHOP dump per display and none when no route needs it; a
kernel without nexthop objects; what /proc can and cannot say.

Before the fix these routes showed "On-link" with a blank interface and ``nexthops: []``."""

from __future__ import annotations

import json
import os
import shutil
import struct

import pytest
from record_stats import nexthop_oracle_rows, nexthop_pynetstat_rows

from pynetstat.linux import routes as routes_collector
from pynetstat.linux.netlink import NLMSGHDR, DumpStats, ReplayNetlink, Reply
from pynetstat.linux.nexthop import (
    NEXTHOP_GRP,
    NEXTHOP_KEY,
    NHA_GROUP,
    NHA_ID,
    NHMSG,
    RTM_NEWNEXTHOP,
    NexthopObject,
    decode_nexthops,
    resolve,
)
from pynetstat.linux.procfs import ProcFS
from pynetstat.model.stats import Route
from pynetstat.options import Options
from pynetstat.views import routes

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "linux")
SCENARIO = os.path.join(FIXTURES, "stats-nexthop")


class Counting(ReplayNetlink):
    """A replay that counts the requests of each key."""

    def __init__(self, directory: str):
        super().__init__(directory)
        self.asked: dict[str, int] = {}

    def dump(self, request):
        self.asked[request.key] = self.asked.get(request.key, 0) + 1
        return super().dump(request)


def collect(netlink_dir: str | None = None, base: str = SCENARIO):
    source = Counting(netlink_dir or os.path.join(base, "netlink"))
    snap = routes_collector.collect(Options(routes=True), ProcFS(os.path.join(base, "proc")),
                                    source)
    return snap, source


def oracle(family: int) -> list[tuple]:
    with open(os.path.join(SCENARIO, f"ip-route{family}.json")) as f:
        ip_routes = json.load(f)
    with open(os.path.join(SCENARIO, "ip-nexthop.json")) as f:
        return nexthop_oracle_rows(ip_routes, json.load(f), family)


@pytest.mark.parametrize("family", [4, 6])
def test_every_route_resolves_as_ip_says(family):
    snap, _ = collect()
    doc = routes.to_json(snap, Options(verbose=True))
    assert nexthop_pynetstat_rows(doc[f"ipv{family}_routes"]) == oracle(family)
    assert any(r["nexthop_id"] for r in doc[f"ipv{family}_routes"])  # the scenario holds
    assert snap.notes == []


def test_json_group_weights_and_ids():
    doc = routes.to_json(collect()[0], Options())
    by_dst = {r["destination"]: r for r in doc["ipv4_routes"] + doc["ipv6_routes"]}
    group = by_dst["10.161.0.0"]
    assert group["nexthop_id"] == 20
    assert [(h["gateway"], h["interface"], h["weight"], h["nexthop_id"])
            for h in group["nexthops"]] == [("10.77.0.2", "va", 3, 10), ("10.77.0.3", "va", 1, 11)]
    assert [(h["gateway"], h["weight"], h["nexthop_id"]) for h in by_dst["2001:db8:161::"]
            ["nexthops"]] == [("fd77::2", 1, 12), ("fd77::3", 2, 13)]
    assert by_dst["10.163.0.0"]["nexthops"][0]["gateway"] == "fd77::3"  # RFC 5549
    assert by_dst["10.162.0.0"]["type"] == "blackhole" and by_dst["10.162.0.0"]["nexthops"] == []
    assert by_dst["10.77.0.0"]["nexthop_id"] is None
    assert by_dst["10.77.0.0"]["nexthops"][0]["nexthop_id"] is None


def test_text_rows_have_gateway_and_interface():
    snap, _ = collect()
    rows = {tuple(line.split()) for line in routes.render_text(snap, Options()).splitlines()}
    va = str(next(i.index for i in snap.interfaces if i.name == "va"))
    for row in (("10.160.0.0", "255.255.0.0", "10.77.0.2", "va", "0"),
                ("10.161.0.0", "255.255.0.0", "10.77.0.2", "va", "0"),
                ("10.161.0.0", "255.255.0.0", "10.77.0.3", "va", "0"),
                ("10.162.0.0", "255.255.0.0", "blackhole", "blackhole", "0"),
                ("10.163.0.0", "255.255.0.0", "fd77::3", "va", "0"),
                ("10.164.0.0", "255.255.0.0", "On-link", "va", "0"),
                (va, "1024", "2001:db8:160::/48", "fd77::2"),
                (va, "1024", "2001:db8:161::/48", "fd77::2"),
                (va, "1024", "2001:db8:161::/48", "fd77::3")):
        assert row in rows
    verbose = routes.render_text(snap, Options(verbose=True)).splitlines()
    assert ("10.165.0.0", "255.255.0.0", "10.77.0.2", "va", "0", "100", "unicast") in {
        tuple(line.split()) for line in verbose}


def test_one_nexthop_dump_per_display_and_none_without_nexthop_routes():
    _, source = collect()
    assert source.asked[NEXTHOP_KEY] == 1
    _, source = collect(base=os.path.join(FIXTURES, "stats-netns"))
    assert NEXTHOP_KEY not in source.asked


def test_kernel_without_nexthop_table_says_which_routes_are_unknown(tmp_path):
    netlink = tmp_path / "netlink"
    shutil.copytree(os.path.join(SCENARIO, "netlink"), netlink)
    os.remove(netlink / f"{NEXTHOP_KEY}.nl")  # replays as EOPNOTSUPP, as a kernel before 5.3
    snap, _ = collect(str(netlink))
    assert len(snap.notes) == 1 and "route(s) name nexthop objects" in snap.notes[0]
    assert "could not be read" in snap.notes[0]
    rows = {tuple(line.split()) for line in routes.render_text(snap, Options()).splitlines()}
    assert ("10.160.0.0", "255.255.0.0", "nhid-10", "unicast", "0") in rows
    doc = routes.to_json(snap, Options())
    hop = next(r for r in doc["ipv4_routes"] if r["destination"] == "10.160.0.0")["nexthops"]
    assert hop == [{"gateway": None, "interface": None, "ifindex": None, "weight": 1,
                    "nexthop_id": 10}]


def test_a_missing_group_member_is_said_and_a_compat_route_keeps_its_path():
    from pynetstat.model.stats import NextHop

    group = Route(4, 254, "10.1.0.0", 16, [], 0, 1, nexthop_id=20)
    compat = Route(4, 254, "10.2.0.0", 16, [NextHop("10.0.0.9", 2, "va")], 0, 1, nexthop_id=99)
    objects = {20: NexthopObject(20, group=[(10, 1), (11, 2)]),
               10: NexthopObject(10, "10.0.0.1", 2)}
    assert resolve([group, compat], objects, {2: "va"}) == [group]
    assert [(h.gateway, h.ifname, h.weight, h.nexthop_id, h.unresolved) for h in group.nexthops] \
        == [("10.0.0.1", "va", 1, 10, False), (None, None, 2, 11, True)]
    assert compat.nexthops[0].gateway == "10.0.0.9"


def test_group_weight_uses_its_high_byte():
    """weight = ((weight_high << 8) | weight) + 1 (16-bit weights, Linux 6.12)."""
    members = NEXTHOP_GRP.pack(10, 0xFF, 1, 0) + NEXTHOP_GRP.pack(11, 2, 0, 0)
    attrs = struct.pack("=HHI", 8, NHA_ID, 20) + struct.pack("=HH", 4 + len(members), NHA_GROUP)
    body = NHMSG.pack(0, 0, 0, 0, 0) + attrs + members
    msg = NLMSGHDR.pack(16 + len(body), RTM_NEWNEXTHOP, 2, 7, 0) + body
    done = NLMSGHDR.pack(20, 3, 2, 7, 0) + b"\0\0\0\0"
    (obj,) = decode_nexthops(Reply(7, iter([msg + done])), DumpStats(), whole=True)
    assert (obj.id, obj.group) == (20, [(10, 512), (11, 3)])


def test_proc_fallback_shows_first_paths_and_says_the_gateway_it_cannot_show():
    snap, _ = collect(netlink_dir="/nonexistent-recording")
    assert snap.sources == {"links": "procfs", 4: "procfs", 6: "procfs"}
    doc = routes.to_json(snap, Options())
    by_dst = {r["destination"]: r["nexthops"] for r in doc["ipv4_routes"]}
    assert by_dst["10.160.0.0"][0]["gateway"] == "10.77.0.2"
    assert len(by_dst["10.161.0.0"]) == 1  # the group's first path only
    assert by_dst["10.163.0.0"][0]["gateway"] == "0.0.0.0"  # fd77::3: what the file prints
    assert len(snap.notes) == 1 and "1 IPv4 route(s)" in snap.notes[0]
    assert "cannot show (an IPv6 gateway, RFC 5549)" in snap.notes[0]
    quiet, _ = collect(netlink_dir="/nonexistent", base=os.path.join(FIXTURES, "stats-netns"))
    assert quiet.sources[4] == "procfs" and quiet.notes == []  # nothing hidden: nothing said
