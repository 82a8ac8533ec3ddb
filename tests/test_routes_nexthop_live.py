"""-r on routes through nexthop objects, live (issue 11 item 1): in a test-made namespace with
the scenario of ``record_stats.NEXTHOPS`` and net.ipv4.nexthop_compat_mode=0 set in that
namespace only, `pynetstat -r` and `-r --json` give every route's gateway, interface and weights
as `ip -j route show table all` resolved through `ip -j nexthop show`, and `jc --route-print`
still reads the text.

Before the fix these routes printed "On-link" with no interface, and JSON had ``nexthops: []``."""

from __future__ import annotations

import json
import os
import sys

import jc
import pytest
import record_stats
from record_stats import nexthop_oracle_rows, nexthop_pynetstat_rows

from conftest import LAUNCHER
from test_jc_routes import _expected

pytestmark = record_stats.netns_marks()

COMPAT = "/proc/sys/net/ipv4/nexthop_compat_mode"


@pytest.fixture(scope="module")
def scene():
    with open(COMPAT) as f:
        host_compat = f.read()
    a, b = record_stats.veth_pair("nh")
    try:
        record_stats.add_nexthop_routes(a)
        env = dict(os.environ, PYNETSTAT_RESOLVE_BUDGET="0")
        printed = {argv: a.run(sys.executable, LAUNCHER, *argv.split(), env=env)
                   for argv in ("-r", "-rv", "-r --json", "-rv --json")}
        nexthops = json.loads(a.ip("-j", "nexthop", "show"))
        ip_routes = {family: json.loads(a.ip("-j", f"-{family}", "route", "show", "table", "all"))
                     for family in (4, 6)}
        compat_mode = a.run("cat", COMPAT).stdout
        a.run("sysctl", "-qw", "net.ipv4.nexthop_compat_mode=1")
        compat = a.run(sys.executable, LAUNCHER, "-rv", "--json", env=env)
        yield {"printed": printed, "ip_routes": ip_routes, "compat_on": compat,
               "oracle": {family: nexthop_oracle_rows(ip_routes[family], nexthops, family)
                          for family in (4, 6)},
               "compat": compat_mode}
    finally:
        a.delete()
        b.delete()
        with open(COMPAT) as f:
            assert f.read() == host_compat  # the sysctl is per namespace: the host's is untouched


def test_the_scene_hides_the_paths_from_route_messages(scene):
    assert scene["compat"].strip() == "0"
    for family in (4, 6):
        with_id = [r for r in scene["ip_routes"][family] if "nhid" in r]
        assert with_id and not any("gateway" in r or "dev" in r for r in with_id)


@pytest.mark.parametrize("argv", ["-r --json", "-rv --json"])
@pytest.mark.parametrize("family", [4, 6])
def test_json_paths_match_ip(scene, argv, family):
    result = scene["printed"][argv]
    assert result.stderr == ""
    ours = nexthop_pynetstat_rows(json.loads(result.stdout)["routes"][f"ipv{family}_routes"])
    theirs = scene["oracle"][family]
    assert ours == (theirs if "v" in argv.split()[0] else [r for r in theirs if r[0] == "main"])


def test_text_shows_gateway_interface_of_each_path(scene):
    rows = {tuple(line.split()) for line in scene["printed"]["-r"].stdout.splitlines()}
    for table, dst, gateway, dev, metric, _rtype, _weight, nh_id in scene["oracle"][4]:
        if table == "main" and nh_id is not None:
            network, bits = dst.split("/")
            mask = ".".join(str((0xFFFFFFFF << (32 - int(bits)) >> s) & 0xFF)
                            for s in (24, 16, 8, 0))
            assert (network, mask, gateway or "On-link", dev, str(metric)) in rows, dst
    assert ("10.162.0.0", "255.255.0.0", "blackhole", "blackhole", "0") in rows


@pytest.mark.parametrize("argv", ["-r", "-rv"])
def test_jc_reads_every_route(scene, argv):
    doc = json.loads(scene["printed"][f"{argv} --json"].stdout)["routes"]
    parsed = jc.parse("route_print", scene["printed"][argv].stdout, quiet=True)
    for family in (4, 6):
        keys = ("network_destination", "netmask", "gateway", "interface", "metric") if family == 4 \
            else ("interface", "metric", "gateway", "network_destination")
        got = [{k: row.get(k) for k in keys}
               for row in parsed[f"ipv{family}_route_table"]["active_routes"]]
        want = _expected(doc[f"ipv{family}_routes"], family)
        for row in want if family == 6 else ():
            if not isinstance(row["interface"], int):
                row["interface"] = None  # jc reads the If column as a number: a type is null
        assert got == want
        assert any(r["nexthop_id"] for r in doc[f"ipv{family}_routes"])


def test_compat_mode_changes_nothing_shown(scene):
    """With compat mode on, the route messages carry the paths too (and RTA_NH_ID): the same
    routes, paths, weights and ids come out, from one nexthop dump all the same."""
    assert scene["compat_on"].stderr == ""
    assert json.loads(scene["compat_on"].stdout) == json.loads(scene["printed"]["-rv --json"].stdout)
