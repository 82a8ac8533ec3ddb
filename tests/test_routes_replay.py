"""-r from recorded kernels: rtnetlink dumps replayed and /proc files, checked against what
`ip -j route show table all` said at recording time, and the IPv6-less kernel."""

from __future__ import annotations

import json
import os
import sys

import pytest

from pynetstat.errors import ParseError
from pynetstat.linux import routes as routes_collector
from pynetstat.linux.netlink import ReplayNetlink
from pynetstat.linux.procfs import ProcFS
from pynetstat.linux.rtnetlink import parse_proc_ipv6_route, parse_proc_route
from pynetstat.options import Options
from pynetstat.views import routes

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))
from record_stats import oracle_rows, pynetstat_rows  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "linux")


def collect(scenario: str, replay: bool = True):
    base = os.path.join(FIXTURES, scenario)
    source = ReplayNetlink(os.path.join(base, "netlink" if replay else "no-such-dir"))
    return routes_collector.collect(Options(routes=True), ProcFS(os.path.join(base, "proc")),
                                    source)


def oracle(scenario: str, family: int) -> list[tuple]:
    with open(os.path.join(FIXTURES, scenario, f"ip-route{family}.json")) as f:
        return oracle_rows(json.load(f), family)


@pytest.mark.parametrize("family", [4, 6])
def test_replayed_dump_matches_ip_route_every_table(family):
    snap = collect("stats-netns")
    assert snap.sources[family] == "netlink"
    doc = routes.to_json(snap, Options(verbose=True))
    assert pynetstat_rows(doc[f"ipv{family}_routes"]) == oracle("stats-netns", family)


@pytest.mark.parametrize("family", [4, 6])
def test_default_view_is_the_main_table(family):
    doc = routes.to_json(collect("stats-netns"), Options())
    assert pynetstat_rows(doc[f"ipv{family}_routes"]) == [
        row for row in oracle("stats-netns", family) if row[0] == "main"]


def test_ipv4_text_rows_have_netmask_gateway_interface_metric():
    text = routes.render_text(collect("stats-netns"), Options())
    rows = {tuple(line.split()) for line in text.splitlines()}
    assert ("0.0.0.0", "0.0.0.0", "10.77.0.2", "va", "100") in rows
    assert ("198.51.100.0", "255.255.255.0", "On-link", "va", "50") in rows
    assert ("203.0.113.7", "255.255.255.255", "10.77.0.2", "va", "0") in rows
    assert ("10.88.0.0", "255.255.0.0", "10.77.0.3", "va", "0") in rows  # second path
    assert ("10.99.0.0", "255.255.0.0", "unreachable", "unreachable", "0") in rows  # no device
    assert not any(row[:1] == ("192.0.2.0",) for row in rows)  # table 100: only with -v
    verbose = {tuple(line.split()) for line in routes.render_text(collect("stats-netns"),
                                                                   Options(verbose=True)).splitlines()}
    assert ("192.0.2.0", "255.255.255.128", "10.77.0.2", "va", "7", "100", "unicast") in verbose


def test_ipv6_text_rows_and_layout():
    snap = collect("stats-netns")
    text = routes.render_text(snap, Options())
    va = next(i.index for i in snap.interfaces if i.name == "va")
    rows = {tuple(line.split()) for line in text.splitlines()}
    assert (str(va), "300", "::/0", "fd77::2") in rows
    assert (str(va), "50", "2001:db8:1::/48", "On-link") in rows
    assert (str(va), "1024", "2001:db8:2::5/128", "fd77::2") in rows
    lines = text.splitlines()
    header = lines.index(" If Metric Network Destination      Gateway")
    assert lines[header - 1] == "Active Routes:" and lines[header - 2] == "=" * 75
    assert lines[header - 3] == "IPv6 Route Table"


def test_interface_list_and_persistent_routes():
    snap = collect("stats-netns")
    text = routes.render_text(snap, Options())
    va = next(i for i in snap.interfaces if i.name == "va")
    assert f"{va.index:>3}...{va.hw_address.replace(':', ' ')} ......va" in text.splitlines()
    assert "  1...00 00 00 00 00 00 ......lo" in text.splitlines()
    assert text.count("Persistent Routes:\n  None\n") == 2
    assert "Linux keeps no persistent routes in the kernel" in text
    doc = routes.to_json(snap, Options())
    assert doc["persistent_routes"] == [] and doc["source"] == {"links": "netlink", "4": "netlink",
                                                                 "6": "netlink"}


def test_proc_fallback_gives_the_main_table():
    snap = collect("stats-netns", replay=False)
    assert snap.sources == {"links": "procfs", 4: "procfs", 6: "procfs"}
    doc = routes.to_json(snap, Options())
    ours = set(pynetstat_rows(doc["ipv4_routes"]))
    main = {row for row in oracle("stats-netns", 4) if row[0] == "main"}
    assert ours <= main  # /proc/net/route shows only the first path of a multipath route
    assert {row[1] for row in ours} == {row[1] for row in main}
    # /proc/net/ipv6_route names no table: compare destination, gateway, device, metric
    v6 = {row[1:5] for row in pynetstat_rows(doc["ipv6_routes"])}
    assert {row[1:5] for row in oracle("stats-netns", 6) if row[0] == "main"} <= v6


def test_kernel_without_ipv6():
    snap = collect("stats-noipv6")
    assert snap.sources[4] == "netlink" and snap.sources[6] is None
    text = routes.render_text(snap, Options())
    v6 = text[text.index("IPv6 Route Table"):]
    assert "Not available" in v6 and "no IPv6 in this kernel" in v6
    assert routes.to_json(snap, Options())["ipv6_routes"] is None
    assert routes.counters(snap) == {}


def test_host_recording_netlink_and_proc_agree_on_the_main_table():
    base = os.path.join(FIXTURES, "stats-host")
    live = routes.to_json(collect("stats-host"), Options())
    with open(os.path.join(base, "proc", "net", "route")) as f:
        proc = parse_proc_route(f.read())
    assert {(r["destination"], r["prefix_length"], r["nexthops"][0]["gateway"], r["metric"])
            for r in live["ipv4_routes"]} == {
        (r.destination, r.prefix_len, r.nexthops[0].gateway, r.metric) for r in proc}


@pytest.mark.parametrize(("parse", "line"), [
    (parse_proc_route, "eth0\t0000000G\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0"),
    (parse_proc_route, "eth0\t00000000\t00000000"),
    (parse_proc_ipv6_route, "fe80 40 0 00 0 00000100 00000001 00000000 00000001 eth0"),
])
def test_malformed_route_lines(parse, line):
    with pytest.raises(ParseError) as info:
        parse("Iface\tDestination\n" + line if parse is parse_proc_route else line)
    assert info.value.line == line
