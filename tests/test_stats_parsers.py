"""The /proc counter parsers, on files recorded from this kernel and on malformed lines."""

from __future__ import annotations

import doctest
import os

import pytest

from pynetstat.errors import ParseError
from pynetstat.linux import snmp
from pynetstat.linux.snmp import parse_paired, parse_snmp6
from pynetstat.model import stats
from pynetstat.model.stats import monotonic_counters

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "linux")
SCENARIOS = ("stats-host", "stats-netns", "stats-noipv6")


def read(scenario: str, rel: str) -> str:
    with open(os.path.join(FIXTURES, scenario, "proc", rel)) as f:
        return f.read()


def test_docstring_examples_hold():
    # monotonic_counters (one example) moved from linux/snmp to model/stats: a view uses it.
    results = [doctest.testmod(snmp), doctest.testmod(stats)]
    assert sum(r.attempted for r in results) == 4 and sum(r.failed for r in results) == 0


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("rel", ["net/snmp", "net/netstat"])
def test_paired_files_give_every_name_its_value(scenario, rel):
    text = read(scenario, rel)
    groups = parse_paired(text, rel)
    lines = text.splitlines()
    # Oracle: the n-th name of a header line goes with the n-th field of the line below it.
    assert len(groups) == len(lines) // 2
    assert len(lines) % 2 == 0
    for header, values in zip(lines[::2], lines[1::2]):
        group = header.split(":")[0]
        assert list(groups[group]) == header.split()[1:]
        assert [str(v) for v in groups[group].values()] == values.split()[1:]


def test_snmp_worked_example_from_recording():
    groups = parse_paired(read("stats-host", "net/snmp"), "/proc/net/snmp")
    assert groups["Ip"]["DefaultTTL"] == 64  # the kernel default, net.ipv4.ip_default_ttl
    assert groups["Tcp"]["MaxConn"] == -1  # RFC 2012: -1 means dynamic
    assert groups["Tcp"]["RtoMin"] == 200 and groups["Tcp"]["RtoMax"] == 120000
    assert {"Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite"} <= set(groups)


@pytest.mark.parametrize("scenario", ["stats-host", "stats-netns"])
def test_snmp6_groups_by_prefix(scenario):
    text = read(scenario, "net/snmp6")
    groups = parse_snmp6(text, "/proc/net/snmp6")
    assert {"Ip6", "Icmp6", "Udp6", "UdpLite6"} <= set(groups)
    flat = {g + n: v for g, values in groups.items() for n, v in values.items()}
    expected = {line.split()[0]: int(line.split()[1]) for line in text.splitlines() if line}
    assert flat == expected


def test_snmp6_counts_the_recorded_udp_traffic():
    # stats-netns was recorded after sending 5 datagrams to fd77::2 from its namespace
    groups = parse_snmp6(read("stats-netns", "net/snmp6"), "/proc/net/snmp6")
    assert groups["Udp6"]["OutDatagrams"] >= 5
    assert groups["Icmp6"]["OutMsgs"] >= 1  # neighbour solicitation for fd77::2


@pytest.mark.parametrize(("text", "line_no", "why"), [
    ("Tcp: A B\nTcp: 1\n", 2, "1 values for 2 names"),
    ("Tcp: A B\nUdp: 1 2\n", 2, "expected the values of Tcp"),
    ("Tcp: A B\n", 1, "header without a value line"),
    ("Tcp: A B\nTcp: 1 x\n", 2, "value is not an integer"),
    ("garbage\n", 1, "expected 'Group: names'"),
])
def test_paired_malformed_names_file_and_line(text, line_no, why):
    with pytest.raises(ParseError) as info:
        parse_paired(text, "/proc/net/snmp")
    assert (info.value.path, info.value.line_no, info.value.why) == ("/proc/net/snmp", line_no, why)
    assert info.value.line == text.splitlines()[line_no - 1]


@pytest.mark.parametrize(("text", "line_no"), [
    ("Ip6InReceives 1\nIp6InHdrErrors\n", 2),
    ("Ip6InReceives 1 2\n", 1),
    ("InReceives 1\n", 1),
    ("Ip6InReceives one\n", 1),
    ("Ip6 1\n", 1),
])
def test_snmp6_malformed(text, line_no):
    with pytest.raises(ParseError) as info:
        parse_snmp6(text, "/proc/net/snmp6")
    assert info.value.line_no == line_no


def test_monotonic_counters_leave_out_settings_and_levels():
    groups = parse_paired(read("stats-host", "net/snmp"), "/proc/net/snmp")
    flat = monotonic_counters(groups)
    assert "Tcp.ActiveOpens" in flat and "Ip.InReceives" in flat
    for gauge in ("Tcp.MaxConn", "Tcp.CurrEstab", "Ip.DefaultTTL", "Ip.Forwarding"):
        assert gauge not in flat
