"""jc, the widely used parser of Windows `route print` output, reads `pynetstat -r` and
`-r -v` as a script written for Windows would (issue 11): in a test-made namespace with every
route type (unicast, on-link, multipath, second table, blackhole, unreachable, prohibit, throw,
both families), each route jc finds is a route --json gives, cell for cell, and none is lost.

Before the fix a route with no device (blackhole, unreachable, prohibit, throw) left its
Interface cell blank: jc then crashed (IndexError) or shifted the Metric into Interface."""

from __future__ import annotations

import json
import os
import sys

import jc
import pytest
import record_stats

from conftest import LAUNCHER

pytestmark = record_stats.netns_marks()

# Routes with no device, one of each type, in both families (``ip route add TYPE PREFIX``).
NO_DEVICE = (
    (4, "blackhole 10.201.0.0/16"), (4, "prohibit 10.202.0.0/16"), (4, "throw 10.203.0.0/16"),
    (4, "unreachable 10.204.0.0/16 table 100"),
    (6, "blackhole 2001:db8:a1::/48"), (6, "unreachable 2001:db8:a2::/48"),
    (6, "prohibit 2001:db8:a3::/48"), (6, "throw 2001:db8:a4::/48"),
)


@pytest.fixture(scope="module")
def printed():
    """``{argv: stdout}`` of pynetstat run inside the namespace, for -r and -rv, text and JSON."""
    a, b = record_stats.veth_pair("jcr")
    try:
        record_stats.add_routes(a)
        for family, spec in NO_DEVICE:
            a.ip(f"-{family}", "route", "add", *spec.split())
        env = dict(os.environ, PYNETSTAT_RESOLVE_BUDGET="0")
        yield {argv: a.run(sys.executable, LAUNCHER, *argv.split(), env=env).stdout
               for argv in ("-r", "-rv", "-r --json", "-rv --json")}
    finally:
        a.delete()
        b.delete()


def _expected(routes: list[dict], family: int) -> list[dict]:
    """What jc should find for the JSON routes: one row per next hop; a route with no path has
    its type in the Gateway and Interface cells."""
    rows = []
    for r in routes:
        for hop in r["nexthops"] or [{"gateway": None, "interface": None, "ifindex": None}]:
            no_path = r["type"] not in ("unicast", "local", "broadcast", "anycast", "multicast")
            gateway = r["type"] if no_path or not r["nexthops"] else hop["gateway"] or "On-link"
            if family == 4:
                rows.append({"network_destination": r["destination"], "netmask": r["netmask"],
                             "gateway": gateway, "interface": hop["interface"] or r["type"],
                             "metric": r["metric"]})
            else:
                rows.append({"interface": hop["ifindex"] if hop["ifindex"] is not None else r["type"],
                             "metric": r["metric"], "gateway": gateway,
                             "network_destination": f"{r['destination']}/{r['prefix_length']}"})
    return rows


@pytest.mark.parametrize("argv", ["-r", "-rv"])
def test_jc_reads_every_route(printed, argv):
    doc = json.loads(printed[f"{argv} --json"])["routes"]
    parsed = jc.parse("route_print", printed[argv], quiet=True)
    for family in (4, 6):
        routes = doc[f"ipv{family}_routes"]
        assert {r["type"] for r in routes} >= {"blackhole", "unreachable", "prohibit", "throw"} or (
            argv == "-r" and family == 4)  # the unreachable IPv4 route is in table 100: -v
        theirs = parsed[f"ipv{family}_route_table"]["active_routes"]
        keys = ("network_destination", "netmask", "gateway", "interface", "metric") if family == 4 \
            else ("interface", "metric", "gateway", "network_destination")
        got = [{k: row.get(k) for k in keys} for row in theirs]
        assert got == _expected(routes, family)


def test_interface_cell_is_never_empty(printed):
    """Every IPv4 route row has its five cells (seven with -v): no blank Interface."""
    for argv, cells in (("-r", 5), ("-rv", 7)):
        table = printed[argv].split("IPv4 Route Table")[1].split("Persistent Routes:")[0]
        rows = [line.split() for line in table.splitlines()[4:-1]]
        assert rows and all(len(row) == cells for row in rows), rows
