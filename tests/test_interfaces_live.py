"""-e in a test-made pair of network namespaces joined by veth: real traffic, checked against
/sys/class/net/*/statistics read inside the namespace before and after pynetstat's collect."""

from __future__ import annotations

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))
import record_stats  # noqa: E402  (namespace helpers shared with the fixture recorder)

pytestmark = record_stats.netns_marks()

# Runs inside the namespace: sysfs counters, then pynetstat's collect, then sysfs again.
PROBE = r"""
import json, os, sys
from pynetstat.linux.netlink import LiveNetlink, ReplayNetlink
from pynetstat.linux.procfs import ProcFS
from pynetstat.options import Options
from pynetstat.linux import links as links_collector
from pynetstat.views import interfaces

def sysfs():
    out = {}
    for dev in os.listdir("/sys/class/net"):
        d = f"/sys/class/net/{dev}/statistics"
        out[dev] = {name: int(open(f"{d}/{name}").read()) for name in os.listdir(d)}
    return out

source = LiveNetlink() if sys.argv[1] == "netlink" else ReplayNetlink("/nonexistent-recording")
opts = Options(ethernet=True, verbose=True)
before = sysfs()
snap = links_collector.collect(opts, ProcFS("/proc"), source)
after = sysfs()
print(json.dumps({"before": before, "after": after, "json": interfaces.to_json(snap, opts),
                  "counters": interfaces.counters(snap),
                  "text": interfaces.render_text(snap, opts)}))
"""


@pytest.fixture(scope="module")
def pair():
    a, b = record_stats.veth_pair("if")
    try:
        record_stats.resolve_neighbours(a, "10.77.0.2", "fd77::2")
        yield a, b
    finally:
        a.delete()
        b.delete()


def probe(ns, source: str) -> dict:
    return json.loads(ns.python(PROBE, source))


@pytest.mark.parametrize("source", ["netlink", "procfs"])
def test_every_counter_lies_between_sysfs_readings(pair, source):
    a, _b = pair
    result = probe(a, source)
    assert result["json"]["source"] == source
    names = {i["name"] for i in result["json"]["interfaces"]}
    assert names == {"lo", "va"}
    checked = 0
    for key, value in result["counters"].items():
        dev, field = key.split(".", 1)
        if field in result["before"][dev]:
            assert result["before"][dev][field] <= value <= result["after"][dev][field], key
            checked += 1
    assert checked >= (40 if source == "netlink" else 20)


def interfaces_of(ns) -> dict:
    return {i["name"]: i for i in probe(ns, "netlink")["json"]["interfaces"]}


def test_sent_traffic_shows_on_both_ends(pair):
    a, b = pair
    sender0, receiver0 = interfaces_of(a), interfaces_of(b)
    record_stats.send_udp(a, "10.77.0.2", 20)
    record_stats.send_udp(a, "fd77::2", 10)
    sender, receiver = interfaces_of(a), interfaces_of(b)

    def moved(side, side0, dev, field):
        return side[dev]["kernel"][field] - side0[dev]["kernel"][field]

    assert moved(sender, sender0, "va", "tx_packets") >= 30
    assert moved(sender, sender0, "va", "tx_bytes") >= 30 * (100 + 8 + 20)  # payload+UDP+IPv4
    assert moved(receiver, receiver0, "vb", "rx_packets") >= 30
    assert moved(sender, sender0, "lo", "tx_packets") == 0  # nothing went through loopback
    assert sender["va"]["statistics"]["bytes"]["sent"] == sender["va"]["kernel"]["tx_bytes"]
    assert sender["va"]["hw_address"] and len(sender["va"]["hw_address"].split(":")) == 6
    link = json.loads(a.ip("-j", "link", "show", "va"))[0]
    assert (sender["va"]["index"], sender["va"]["hw_address"]) == (link["ifindex"], link["address"])


def test_total_is_the_sum_over_interfaces(pair):
    a, _b = pair
    result = probe(a, "netlink")
    total = result["json"]["total"]
    lo = sum(result["before"][d]["rx_bytes"] for d in ("lo", "va"))
    hi = sum(result["after"][d]["rx_bytes"] for d in ("lo", "va"))
    assert lo <= total["bytes"]["received"] <= hi
    lo = sum(result["before"][d]["tx_dropped"] for d in ("lo", "va"))
    hi = sum(result["after"][d]["tx_dropped"] for d in ("lo", "va"))
    assert lo <= total["discards"]["sent"] <= hi


def test_counts_linux_does_not_keep_are_not_available(pair):
    a, _b = pair
    result = probe(a, "netlink")
    total = result["json"]["total"]
    assert total["unicast"]["sent"] is None and total["non_unicast"]["sent"] is None
    assert total["unknown_protocols"]["received"] is None  # no count of its own: in Discards
    lines = result["text"].splitlines()
    assert lines[0] == "Interface Statistics"
    unicast = next(line for line in lines if line.startswith("Unicast packets"))
    assert unicast.split()[-1] == "n/a"
    fallback = probe(a, "procfs")
    assert fallback["json"]["total"]["unknown_protocols"]["received"] is None  # not in /proc/net/dev
    assert "Interface Statistics: va" in fallback["text"]


# Runs inside the sending namespace: five frames of an ethertype no protocol handles (0x88b5,
# IEEE 802 local experimental) from vb to va's MAC.
SEND_UNKNOWN = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("vb", 0))
dst = bytes.fromhex(sys.argv[1].replace(":", ""))
src = bytes.fromhex(open("/sys/class/net/vb/address").read().strip().replace(":", ""))
for _ in range(5):
    s.send(dst + src + b"\x88\xb5" + bytes(46))
"""


def test_unknown_protocol_frames_are_discards_not_a_count_of_their_own(pair):
    """Issue 11 item 4: Linux counts a frame of an unknown ethertype in rx_dropped; rx_nohandler
    (what "Unknown protocols" showed) stays 0. The row says n/a and why; Discards has them."""
    a, b = pair
    before = probe(a, "netlink")["json"]["interfaces"]
    mac = next(i["hw_address"] for i in before if i["name"] == "va")
    b.python(SEND_UNKNOWN, mac)
    result = probe(a, "netlink")
    va = {i["name"]: i for i in result["json"]["interfaces"]}["va"]
    va_before = {i["name"]: i for i in before}["va"]
    assert va["statistics"]["discards"]["received"] - va_before["statistics"]["discards"]["received"] >= 5
    assert va["statistics"]["unknown_protocols"] == {"received": None, "sent": None}
    table = result["text"].split("Interface Statistics: va")[1]
    row = next(line for line in table.splitlines() if line.startswith("Unknown protocols"))
    assert row.split()[2:] == ["n/a"]
    assert "unknown\nprotocol is counted in Discards" in result["text"]
