"""-s rendering and JSON from recorded kernels, -p selection and its validation."""

from __future__ import annotations

import json
import os

import pytest

from pynetstat.cli import canonical_protocol
from pynetstat.errors import UsageError
from pynetstat.linux import counters as counters_collector
from pynetstat.linux.procfs import ProcFS
from pynetstat.options import STATISTICS_PROTOCOLS, Options
from pynetstat.views import statistics

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "linux")


def snapshot(scenario: str):
    return counters_collector.collect(Options(statistics=True),
                              ProcFS(os.path.join(FIXTURES, scenario, "proc")), None)


@pytest.mark.parametrize("text", ["ip", "IPV6", "icmp", "IcmpV6", "tcp", "Tcpv6", "udp", "UDPv6"])
def test_protocol_is_case_insensitive_and_canonical(text):
    assert canonical_protocol(text, statistics=True) in STATISTICS_PROTOCOLS
    assert canonical_protocol(text, statistics=True).lower() == text.lower()


@pytest.mark.parametrize("text", ["sctp", "", "tcp6", "IPv4"])
def test_other_protocols_are_a_usage_error_naming_the_valid_ones(text):
    with pytest.raises(UsageError) as info:
        canonical_protocol(text, statistics=True)
    message = str(info.value)
    assert "\n" not in message and all(name in message for name in STATISTICS_PROTOCOLS)
    assert info.value.exit_status == 2


def test_default_shows_every_section_in_the_spec_order():
    text = statistics.render_text(snapshot("stats-host"), Options(statistics=True))
    titles = [line for line in text.splitlines() if line.endswith("Statistics") or "Statistics for" in line]
    assert titles == ["IPv4 Statistics", "IPv6 Statistics", "ICMPv4 Statistics", "ICMPv6 Statistics",
                      "TCP Statistics for IPv4 and IPv6", "UDP Statistics for IPv4", "UDP Statistics for IPv6"]
    assert "  Packets Received" in text and "Received    Sent" in text


def test_worked_example_values_from_the_recording():
    """The numbers printed are the recorded file's numbers (read here by eye-checkable lines)."""
    snap = snapshot("stats-netns")
    text = statistics.render_text(snap, Options(protocol="UDPv6"))
    with open(os.path.join(FIXTURES, "stats-netns", "proc", "net", "snmp6")) as f:
        out6 = next(line.split()[1] for line in f if line.startswith("Udp6OutDatagrams"))
    assert int(out6) >= 5  # the recorder sent 5 datagrams to fd77::2, after resolving it
    assert f"  Datagrams Sent       = {out6}\n" in text
    assert text.count("Statistics") == 1


@pytest.mark.parametrize(("protocol", "title"), [("TCP", "TCP Statistics for IPv4 and IPv6"),
                                                 ("TCPv6", "TCP Statistics for IPv4 and IPv6"),
                                                 ("ICMP", "ICMPv4 Statistics")])
def test_p_selects_one_section(protocol, title):
    text = statistics.render_text(snapshot("stats-host"), Options(protocol=protocol))
    assert [line for line in text.splitlines() if "Statistics" in line] == [title]


def test_counts_linux_does_not_keep_are_not_available_never_zero():
    snap = snapshot("stats-host")
    text = statistics.render_text(snap, Options(protocol="IP"))
    assert "  Routing Discards                    = n/a" in text
    doc = statistics.to_json(snap, Options(protocol="IP"))
    assert doc["sections"][0]["counters"]["Routing Discards"] is None


def test_kernel_without_ipv6_says_so():
    snap = snapshot("stats-noipv6")
    text = statistics.render_text(snap, Options())
    assert text.count("Not available") == 3  # IPv6, ICMPv6, UDPv6
    assert "snmp6" in text
    doc = statistics.to_json(snap, Options())
    by_name = {s["name"]: s for s in doc["sections"]}
    assert by_name["ipv6"]["available"] is False and by_name["ipv6"]["counters"] is None
    assert by_name["ipv4"]["available"] is True
    assert doc["missing"] == [os.path.join(FIXTURES, "stats-noipv6", "proc", "net", "snmp6")]


def test_verbose_adds_the_kernels_other_counters_by_group():
    text = statistics.render_text(snapshot("stats-host"), Options(verbose=True, protocol="TCP"))
    assert "  Linux TcpExt counters" in text and "  Linux MPTcpExt counters" in text
    assert "    TCPPureAcks" in text and "    SyncookiesSent" in text
    plain = statistics.render_text(snapshot("stats-host"), Options(protocol="TCP"))
    assert "TcpExt" not in plain


def test_json_is_plain_and_names_its_source():
    doc = statistics.to_json(snapshot("stats-host"), Options(verbose=True))
    assert json.loads(json.dumps(doc)) == doc
    assert doc["source"] == "procfs"
    icmp = next(s for s in doc["sections"] if s["name"] == "icmpv4")
    assert set(icmp["counters"]["Messages"]) == {"received", "sent"}


def test_counters_are_flat_and_monotonic_only():
    flat = statistics.counters(snapshot("stats-host"))
    assert all("." in key and isinstance(v, int) for key, v in flat.items())
    assert "TcpExt.TCPPureAcks" in flat and "Ip6.InReceives" in flat
    assert "Tcp.CurrEstab" not in flat and "Tcp.MaxConn" not in flat


def test_malformed_file_names_path_and_line(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "snmp").write_text("Ip: Forwarding\nIp: 1 2\n")  # synthesized, see test
    # The file is skipped, not fatal (the other files' sections still show); the reason kept
    # for the stderr note names the path and the line (tests/attack/test_faults.py).
    snap = counters_collector.collect(Options(), ProcFS(str(tmp_path)), None)
    assert snap.unreadable[f"{tmp_path}/net/snmp"].startswith(f"{tmp_path}/net/snmp:2: ")
    assert statistics.notes(snap) == [f"skipped {snap.unreadable[f'{tmp_path}/net/snmp']}"]
