"""-r in a test-made namespace with IPv4 and IPv6 routes of every kind (default via a gateway,
on-link, host, second table, multipath, unreachable), against `ip -j route show table all`."""

from __future__ import annotations

import ipaddress
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))
import record_stats  # noqa: E402
from record_stats import oracle_rows, pynetstat_rows  # noqa: E402

pytestmark = record_stats.netns_marks()

PROBE = r"""
import json, sys
from pynetstat.linux.netlink import LiveNetlink, ReplayNetlink
from pynetstat.linux.procfs import ProcFS
from pynetstat.options import Options
from pynetstat.linux import routes as routes_collector
from pynetstat.views import routes

source = LiveNetlink() if sys.argv[1] == "netlink" else ReplayNetlink("/nonexistent-recording")
snap = routes_collector.collect(Options(routes=True), ProcFS("/proc"), source)
print(json.dumps({"all": routes.to_json(snap, Options(verbose=True)),
                  "main": routes.to_json(snap, Options()),
                  "text": routes.render_text(snap, Options()),
                  "text_all": routes.render_text(snap, Options(verbose=True))}))
"""


@pytest.fixture(scope="module")
def routed():
    a, b = record_stats.veth_pair("rt")
    try:
        record_stats.add_routes(a)
        oracle = {family: oracle_rows(json.loads(a.ip("-j", f"-{family}", "route", "show",
                                                      "table", "all")), family)
                  for family in (4, 6)}
        yield {"netlink": json.loads(a.python(PROBE, "netlink")),
               "procfs": json.loads(a.python(PROBE, "procfs")), "oracle": oracle,
               "va": json.loads(a.ip("-j", "link", "show", "va"))[0]["ifindex"]}
    finally:
        a.delete()
        b.delete()


@pytest.mark.parametrize("family", [4, 6])
def test_every_route_of_every_table_matches_ip(routed, family):
    assert pynetstat_rows(routed["netlink"]["all"][f"ipv{family}_routes"]) == routed["oracle"][family]
    main = [row for row in routed["oracle"][family] if row[0] == "main"]
    assert pynetstat_rows(routed["netlink"]["main"][f"ipv{family}_routes"]) == main
    assert {"100", "local"} <= {row[0] for row in routed["oracle"][family]}  # the scenario holds


def test_the_scenario_routes_are_all_there(routed):
    rows = set(routed["oracle"][4]) | set(routed["oracle"][6])
    for family, spec in record_stats.ROUTES:
        dst = spec.split()[0] if spec.split()[0] != "unreachable" else spec.split()[1]
        if dst == "default":
            dst = "0.0.0.0/0" if family == 4 else "::/0"
        dst = str(ipaddress.ip_network(dst))
        assert any(row[1] == dst for row in rows), spec


def test_ipv4_text_has_netmask_gateway_interface_metric(routed):
    text_rows = {tuple(line.split()) for line in routed["netlink"]["text"].splitlines()}
    for _table, dst, gateway, dev, metric, rtype in (r for r in routed["oracle"][4] if r[0] == "main"):
        network = ipaddress.ip_network(dst)
        third = gateway or ("On-link" if rtype == "unicast" else rtype)
        row = (str(network.network_address), str(network.netmask), third, dev or rtype, str(metric))
        assert row in text_rows, dst


def test_ipv6_text_has_interface_metric_gateway(routed):
    text_rows = {tuple(line.split()) for line in routed["netlink"]["text"].splitlines()}
    for _table, dst, gateway, dev, metric, _rtype in (r for r in routed["oracle"][6] if r[0] == "main"):
        if dev == "va":
            assert (str(routed["va"]), str(metric), dst, gateway or "On-link") in text_rows, dst


def test_verbose_text_shows_the_second_table(routed):
    rows = {tuple(line.split()) for line in routed["netlink"]["text_all"].splitlines()}
    assert ("192.0.2.0", "255.255.255.128", "10.77.0.2", "va", "7", "100", "unicast") in rows
    assert (str(routed["va"]), "9", "2001:db8:3::/64", "fd77::2", "100", "unicast") in rows
    assert ("127.0.0.0", "255.0.0.0", "On-link", "lo", "0", "local", "local") in rows


def test_proc_fallback_agrees_on_the_main_table(routed):
    doc = routed["procfs"]["main"]
    assert doc["source"] == {"links": "procfs", "4": "procfs", "6": "procfs"}
    ours = set(pynetstat_rows(doc["ipv4_routes"]))
    main = {row for row in routed["oracle"][4] if row[0] == "main"}
    assert ours <= main and {r[1] for r in ours} == {r[1] for r in main}
