"""-e from recorded kernels: the RTM_GETLINK dump replayed, /proc/net/dev parsed, and the layout."""

from __future__ import annotations

import json
import os

import pytest

from pynetstat.errors import ParseError
from pynetstat.linux import links as links_collector
from pynetstat.linux import rtnetlink
from pynetstat.linux.netlink import DumpStats, ReplayNetlink, Reply, iter_dump, parse_attrs
from pynetstat.linux.procfs import ProcFS
from pynetstat.options import Options
from pynetstat.views import interfaces

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "linux")


def collect(scenario: str, replay: bool = True):
    base = os.path.join(FIXTURES, scenario)
    source = ReplayNetlink(os.path.join(base, "netlink" if replay else "no-such-dir"))
    return links_collector.collect(Options(ethernet=True), ProcFS(os.path.join(base, "proc")),
                                   source)


def proc_dev(scenario: str) -> dict[str, list[int]]:
    """The recorded /proc/net/dev by the plainest reader: name -> its 16 numbers."""
    with open(os.path.join(FIXTURES, scenario, "proc", "net", "dev")) as f:
        lines = f.read().splitlines()[2:]
    return {n.strip(): [int(v) for v in rest.split()] for n, rest in (ln.split(":") for ln in lines)}


@pytest.mark.parametrize("scenario", ["stats-host", "stats-netns", "stats-noipv6"])
def test_netlink_counters_are_not_behind_proc_net_dev(scenario):
    """/proc/net/dev was copied just before the dump was taken: every count is >= the file's."""
    snap = collect(scenario)
    assert snap.source == "netlink"
    dev = proc_dev(scenario)
    assert {i.name for i in snap.interfaces} == set(dev)
    for i in snap.interfaces:
        rx_bytes, rx_packets, *_ = dev[i.name][:8]
        tx_bytes, tx_packets = dev[i.name][8:10]
        assert rx_bytes <= i.stats.rx_bytes and rx_packets <= i.stats.rx_packets
        assert tx_bytes <= i.stats.tx_bytes and tx_packets <= i.stats.tx_packets
        assert i.index is not None and i.stats.rx_nohandler is not None


def test_proc_net_dev_fallback_worked_example():
    snap = collect("stats-netns", replay=False)
    assert snap.source == "procfs" and "no recording" in snap.fallback_reason
    dev = proc_dev("stats-netns")
    va = next(i for i in snap.interfaces if i.name == "va")
    assert (va.stats.rx_bytes, va.stats.rx_packets, va.stats.multicast) == (
        dev["va"][0], dev["va"][1], dev["va"][7])
    assert (va.stats.tx_bytes, va.stats.tx_packets, va.stats.collisions) == (
        dev["va"][8], dev["va"][9], dev["va"][13])
    # columns that are sums of several kernel fields, or absent, stay None
    assert va.stats.rx_frame_errors is None and va.stats.tx_carrier_errors is None
    assert va.stats.rx_nohandler is None and va.index is None and va.hw_address is None


def test_32_bit_stats_agree_with_64_bit_and_are_the_fallback():
    """The kernel sends IFLA_STATS beside IFLA_STATS64; hiding the 64-bit attribute (by renaming
    its type in a copy of the recorded bytes: a synthesized edit) must fall back to the 32-bit."""
    path = os.path.join(FIXTURES, "stats-netns", "netlink", "rtnl-link.nl")
    reply = ReplayNetlink(os.path.dirname(path)).dump(rtnetlink.link_request())
    chunks = list(reply.chunks)
    wide = list(rtnetlink.decode_links(Reply(reply.seq, iter(chunks)), DumpStats()))
    edited = []
    for chunk in chunks:
        buf = bytearray(chunk)
        for _c, mtype, off, length in iter_dump(Reply(reply.seq, iter([chunk])), DumpStats(), "x"):
            attrs = parse_attrs(chunk, off + rtnetlink.IFINFOMSG.size, off + length)
            if mtype == rtnetlink.RTM_NEWLINK and rtnetlink.IFLA_STATS64 in attrs:
                buf[attrs[rtnetlink.IFLA_STATS64][0] - 2:attrs[rtnetlink.IFLA_STATS64][0]] = b"\xff\x3f"
        edited.append(bytes(buf))
    narrow = list(rtnetlink.decode_links(Reply(reply.seq, iter(edited)), DumpStats()))
    assert [i.name for i in narrow] == [i.name for i in wide]
    for w, n in zip(wide, narrow):
        assert n.stats.rx_bytes == w.stats.rx_bytes % 2**32
        assert n.stats.tx_packets == w.stats.tx_packets % 2**32
        # rx_otherhost_dropped exists only in rtnl_link_stats64: proof the fallback was taken
        assert w.stats.rx_otherhost_dropped is not None and n.stats.rx_otherhost_dropped is None


def test_text_layout():
    text = interfaces.render_text(collect("stats-netns"), Options(ethernet=True))
    lines = text.splitlines()
    assert lines[0] == "Interface Statistics" and lines[1] == ""
    assert lines[2].split() == ["Received", "Sent"]
    labels = [line[:20].strip() for line in lines[4:11]]
    assert labels == ["Bytes", "Packets", "Unicast packets", "Non-unicast packets", "Discards",
                      "Errors", "Unknown protocols"]
    assert len(lines[10].split()) == 3  # Unknown protocols: a Received value only
    right = {len(line) for line in lines[4:10]}
    assert len(right) == 1  # the Sent column is right-aligned


def test_verbose_shows_each_interface_and_json_sums():
    snap = collect("stats-netns")
    text = interfaces.render_text(snap, Options(verbose=True))
    for i in snap.interfaces:
        assert f"Interface Statistics: {i.name} (index {i.index})" in text
    doc = interfaces.to_json(snap, Options())
    assert json.loads(json.dumps(doc)) == doc and doc["source"] == "netlink"
    assert doc["total"]["bytes"]["received"] == sum(i["kernel"]["rx_bytes"] for i in doc["interfaces"])
    assert doc["total"]["unicast"]["sent"] is None


def test_counters_are_flat_per_interface():
    flat = interfaces.counters(collect("stats-netns"))
    assert "va.rx_bytes" in flat and "lo.tx_packets" in flat
    assert all(isinstance(v, int) for v in flat.values())
    assert "va.rx_frame_errors" not in interfaces.counters(collect("stats-netns", replay=False))


@pytest.mark.parametrize("line", ["  eth0: 1 2 3", "eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
                                  "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x"])
def test_malformed_proc_net_dev(line):
    with pytest.raises(ParseError) as info:
        rtnetlink.parse_proc_dev("header 1\nheader 2\n" + line)
    assert info.value.line_no == 3 and info.value.line == line
