"""-s against the live kernel: every counter shown lies between two readings of the kernel's files
taken before and after, and real loopback traffic sent in between moves the right counters."""

from __future__ import annotations

import os
import socket

import pytest

from pynetstat.linux import counters as counters_collector
from pynetstat.linux.procfs import ProcFS
from pynetstat.options import Options
from pynetstat.views import statistics

# The spec's wording -> the kernel's counter, written out here independently of the view.
ORACLE = {
    "IPv4 Statistics": {"Packets Received": "Ip.InReceives", "Received Header Errors": "Ip.InHdrErrors",
                        "Received Packets Delivered": "Ip.InDelivers", "Output Requests": "Ip.OutRequests",
                        "Discarded Output Packets": "Ip.OutDiscards", "Fragments Created": "Ip.FragCreates",
                        "Datagrams Forwarded": "Ip.ForwDatagrams"},
    "IPv6 Statistics": {"Packets Received": "Ip6.InReceives", "Output Requests": "Ip6.OutRequests",
                        "Datagrams Forwarded": "Ip6.OutForwDatagrams"},
    "TCP Statistics for IPv4 and IPv6": {"Active Opens": "Tcp.ActiveOpens", "Passive Opens": "Tcp.PassiveOpens",
                                         "Failed Connection Attempts": "Tcp.AttemptFails",
                                         "Reset Connections": "Tcp.EstabResets", "Segments Received": "Tcp.InSegs",
                                         "Segments Sent": "Tcp.OutSegs", "Segments Retransmitted": "Tcp.RetransSegs"},
    "UDP Statistics for IPv4": {"Datagrams Received": "Udp.InDatagrams", "No Ports": "Udp.NoPorts",
                                "Receive Errors": "Udp.InErrors", "Datagrams Sent": "Udp.OutDatagrams"},
    "UDP Statistics for IPv6": {"Datagrams Received": "Udp6.InDatagrams", "No Ports": "Udp6.NoPorts",
                                "Receive Errors": "Udp6.InErrors", "Datagrams Sent": "Udp6.OutDatagrams"},
}


def kernel_reading() -> dict[str, int]:
    """A reading of the kernel's counters by the simplest possible reader (not pynetstat's)."""
    flat = {}
    for name in ("snmp", "netstat"):
        with open(f"/proc/net/{name}") as f:
            lines = f.read().splitlines()
        assert len(lines) % 2 == 0
        for header, values in zip(lines[::2], lines[1::2]):
            group, *names = header.split()
            assert len(names) == len(values.split()) - 1
            flat.update({f"{group[:-1]}.{n}": int(v) for n, v in zip(names, values.split()[1:])})
    if os.path.exists("/proc/net/snmp6"):
        with open("/proc/net/snmp6") as f:
            for line in f:
                name, value = line.split()
                cut = name.index("6") + 1
                flat[f"{name[:cut]}.{name[cut:]}"] = int(value)
    return flat


def loopback_traffic(udp4: int, udp6: int) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()) as client:
        server, _ = listener.accept()
        with server:
            client.sendall(b"ping")
            assert server.recv(4) == b"ping"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        for _ in range(udp4):
            tx.sendto(b"x", rx.getsockname())
        for _ in range(udp4):
            rx.recv(1)
        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        tx.sendto(b"x", ("127.0.0.1", port))  # nobody listens: Udp NoPorts
    if udp6 and socket.has_ipv6 and os.path.exists("/proc/net/snmp6"):
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as rx6, \
                socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as tx6:
            rx6.bind(("::1", 0))
            for _ in range(udp6):
                tx6.sendto(b"x", rx6.getsockname()[:2])
            for _ in range(udp6):
                rx6.recv(1)


@pytest.fixture(scope="module")
def run():
    """Readings before and after one collect, with traffic between the first reading and it."""
    before = kernel_reading()
    loopback_traffic(udp4=7, udp6=5)
    opts = Options(statistics=True, verbose=True)
    snapshot = counters_collector.collect(opts, ProcFS("/proc"), None)
    text = statistics.render_text(snapshot, opts)
    after = kernel_reading()
    return before, snapshot, text, after


def test_every_counter_lies_between_two_readings(run):
    before, snapshot, _text, after = run
    flat = statistics.counters(snapshot)
    assert len(flat) > 100
    for key, value in flat.items():
        if key in before and key in after:  # a group can only appear, not vanish
            assert before[key] <= value <= after[key], key


def test_loopback_traffic_moves_the_right_counters(run):
    before, snapshot, _text, _after = run
    flat = statistics.counters(snapshot)
    moved = {key: flat[key] - before[key] for key in before if key in flat}
    assert moved["Tcp.ActiveOpens"] >= 1 and moved["Tcp.PassiveOpens"] >= 1
    assert moved["Udp.InDatagrams"] >= 7 and moved["Udp.OutDatagrams"] >= 8
    assert moved["Udp.NoPorts"] >= 1
    assert moved["Ip.InReceives"] >= 8 and moved["Ip.OutRequests"] >= 8
    if "Udp6.InDatagrams" in moved:
        assert moved["Udp6.InDatagrams"] >= 5 and moved["Udp6.OutDatagrams"] >= 5


def sections(text: str) -> dict[str, dict[str, str]]:
    """The ``Name = value`` lines of each titled section of the text output."""
    out: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            current = out.setdefault(line, {})
        elif current is not None and line.startswith("  ") and not line.startswith("    ") and " = " in line:
            name, value = line.strip().split(" = ")
            current[name.strip()] = value
    return out


def test_printed_lines_lie_between_readings(run):
    before, _snapshot, text, after = run
    shown = sections(text)
    for title, lines in ORACLE.items():
        if title.startswith(("IPv6", "UDP Statistics for IPv6")) and "Ip6.InReceives" not in before:
            continue
        for label, key in lines.items():
            assert before[key] <= int(shown[title][label]) <= after[key], (title, label)


def test_tcp_is_shown_once_and_says_why(run):
    _before, _snapshot, text, _after = run
    assert text.count("TCP Statistics") == 1
    assert "TCP Statistics for IPv6\n" not in text
    assert statistics.TCP_SHARED_NOTE in text
