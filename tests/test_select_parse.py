"""Filter option values -> records (pynetstat/select.py), and the one-line errors for bad ones."""

from __future__ import annotations

import pwd

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynetstat.errors import Exit, UsageError
from pynetstat.model.filters import (
    KNOWN_STATES,
    Devices,
    Hosts,
    Interfaces,
    Net,
    Owners,
    Ports,
    States,
    Users,
)
from pynetstat.select import OPTIONS, parse_filter, parse_net, service_ports

SERVICES = "https 443/tcp\nhttps 443/udp\nwww 80/tcp http  # web\nodd 70000/tcp\nsnmp 161/udp\n"


@pytest.fixture
def services(tmp_path):
    path = tmp_path / "services"
    path.write_text(SERVICES)
    return str(path)


def one(option: str, value: str, services: str = "/nonexistent", **how):
    return parse_filter([(option, value)], services_path=services, **how).terms[0]


def bits(*states: int) -> int:
    return sum(1 << s for s in states)


@pytest.mark.parametrize(("value", "mask"), [
    ("LISTENING", bits(10)), ("listen", bits(10)), ("listening", bits(10)),
    ("established,time_wait", bits(1, 6)), ("Fin-Wait-1", bits(4)), ("FIN_WAIT1", bits(4)),
    ("FIN_WAIT_2", bits(5)), ("SYN_RECEIVED", bits(3, 12)), ("syn-recv", bits(3, 12)),
    ("NEW_SYN_RECV", bits(3, 12)), ("closed", bits(7)), ("unconnected", bits(7)),
    ("close", bits(7)), ("BOUND", bits(13)), ("closing", bits(11)),
    ("all", bits(*range(1, 13))),
    ("connected", bits(1, 2, 3, 4, 5, 6, 8, 9, 11, 12)),
    ("synchronized", bits(1, 3, 4, 5, 6, 8, 9, 11, 12)),
    ("bucket", bits(3, 6, 12)),
    ("big", bits(1, 2, 4, 5, 7, 8, 9, 10, 11)),
    ("!listening", KNOWN_STATES & ~bits(10)),
    ("!connected", bits(7, 10, 13)),
])
def test_states(value, mask):
    assert one("state", value) == States(mask=mask)


def test_ports(services):
    assert one("port", "80") == Ports(end="either", ranges=((80, 80),), negated=False)
    assert one("lport", "!8000-8099,22", services) == Ports(
        end="local", ranges=((8000, 8099), (22, 22)), negated=True)
    assert one("rport", "HTTPS,http", services) == Ports(
        end="remote", ranges=((443, 443), (80, 80)), negated=False)
    assert one("port", "0-65535").ranges == ((0, 65535),)


def test_service_file_names_and_aliases():
    assert service_ports(SERVICES) == {"https": {443}, "www": {80}, "http": {80}, "snmp": {161}}


def test_addresses():
    assert one("addr", "10.1.2.3/8") == Hosts(end="either", nets=(
        Net(family=4, packed=bytes([10, 0, 0, 0]), prefix=8, zone=None, ifindex=None),),
        negated=False)
    assert parse_net("local", "::1") == Net(family=6, packed=bytes(15) + b"\x01", prefix=128,
                                            zone=None, ifindex=None)
    assert parse_net("a", "[::1]") == parse_net("a", "::1/128")
    # IPv4-mapped: one address with its IPv4 form
    assert parse_net("a", "::ffff:127.0.0.1") == parse_net("a", "127.0.0.1")
    assert parse_net("a", "::ffff:127.0.0.0/104") == parse_net("a", "127.0.0.0/8")
    assert parse_net("a", "::ffff:0:0/95").family == 6
    # the zone, after the prefix or before it
    zoned = parse_net("a", "fe80::/64%eth0")
    assert (zoned.family, zoned.prefix, zoned.zone) == (6, 64, "eth0")
    assert parse_net("a", "fe80::1%eth0/64") == zoned
    assert one("remote", "!fe80::1%2,::/0").negated


def test_interfaces_users_and_owners():
    assert one("interface", "eth0,lo") == Interfaces(names=("eth0", "lo"), negated=False)
    assert one("user", "root,1000") == Users(uids=frozenset({0, 1000}), negated=False)
    fake = {"alice": 1234}.__getitem__
    assert one("user", "!alice", getpwnam=lambda n: pwd.struct_passwd(
        ("alice", "x", fake(n), 0, "", "/", "/bin/sh"))) == Users(
            uids=frozenset({1234}), negated=True)
    assert one("pid", "1,42") == Owners(kind="pid", values=frozenset({1, 42}), negated=False)
    assert one("process", "nginx*,sshd") == Owners(kind="process", values=("nginx*", "sshd"),
                                                   negated=False)
    assert one("unit", "!*.scope").negated
    assert one("container", "docker:9ec39b91f3d7").kind == "container"


def test_records_are_immutable_and_compare_by_value():
    term = one("port", "80")
    with pytest.raises(AttributeError):
        term.negated = True
    assert hash(term) == hash(one("port", "80"))


BAD = [
    ("state", "listenin", "unknown state 'listenin'"),
    ("state", "", "empty value"),
    ("state", "!", "empty value"),
    ("port", "70000", "bad port '70000'"),
    ("port", "80,,443", "empty value"),
    ("port", "9000-8000", "bad port '9000-8000'"),
    ("lport", "-5", "unknown service '-5'"),
    ("rport", "nosuchservice", "unknown service 'nosuchservice'"),
    ("rport", "odd", "unknown service 'odd'"),
    ("addr", "10.0.0.300/8", "bad address '10.0.0.300/8'"),
    ("addr", "10.0.0.0/33", "bad prefix length in '10.0.0.0/33'"),
    ("local", "::1/129", "bad prefix length in '::1/129'"),
    ("remote", "example.com", "bad address 'example.com'"),
    ("remote", "10.0.0/8", "bad address '10.0.0/8'"),
    ("addr", "fe80::1%", "empty zone in 'fe80::1%'"),
    ("addr", "10.0.0.0/x", "bad prefix length in '10.0.0.0/x'"),
    ("user", "no-such-user-here", "unknown user 'no-such-user-here'"),
    ("pid", "0", "bad PID '0'"),
    ("pid", "12,abc", "bad PID 'abc'"),
    ("interface", "eth0/1", "bad interface name 'eth0/1'"),
    ("port", "\u00b2", "bad port '\u00b2'"),  # digits to str.isdigit, not to int()
    ("pid", "\u0661", "bad PID '\u0661'"),
    ("user", "\x1b[2J", "unknown user '\\x1b[2J'"),  # shown escaped
    ("interface", "averyveryverylongname", "bad interface name 'averyveryverylongname'"),
]


@pytest.mark.parametrize(("option", "value", "says"), BAD, ids=[f"{o}={v}" for o, v, _ in BAD])
def test_a_malformed_value_is_one_line_naming_it_and_what_is_accepted(services, option, value,
                                                                      says):
    with pytest.raises(UsageError) as error:
        parse_filter([(option, value)], services_path=services)
    message = str(error.value)
    assert message.startswith(f"--{option}: {says}")
    assert "\n" not in message
    assert ": expected " in message
    assert error.value.exit_status == Exit.USAGE


def test_unknown_interfaces_are_refused_when_bound():
    filt = parse_filter([("interface", "eth9"), ("addr", "fe80::/64%eth0")])
    assert filt.interface_names() == {"eth9", "eth0"}
    with pytest.raises(UsageError, match=r"^--interface: unknown interface 'eth9': expected"):
        filt.bind({"eth0": (2, ["10.0.0.1"])})
    selection = filt.bind({"eth0": (2, ["10.0.0.1"]),
                           "eth9": (9, ["10.9.9.9", "fe80::9", "2001:db8::9"])})
    devices, hosts = selection.kernel_terms[0], selection.kernel_terms[1]
    assert isinstance(devices, Devices) and devices.ifindexes == {9}
    # its link-local address is left to the index test: a socket on it is bound to eth9
    assert [n.family for n in devices.nets] == [4, 6] and devices.nets[1].packed[0] == 0x20
    assert hosts.nets[0].ifindex == 2
    assert parse_filter([("interface", "3")]).bind().kernel_terms[0].ifindexes == {3}


def test_selection_partitions_terms_and_masks_states():
    selection = parse_filter([("state", "connected"), ("state", "!time-wait"), ("port", "80"),
                              ("user", "0"), ("pid", "1"), ("process", "x")]).bind()
    assert selection.request_states(0xFFFFFFFF & ~(1 << 13)) == (
        bits(1, 2, 3, 4, 5, 8, 9, 11, 12) | (0xFFFFFFFF & ~KNOWN_STATES))
    assert [type(t).__name__ for t in selection.kernel_terms] == ["Ports"]
    assert [type(t).__name__ for t in selection.column_terms] == ["Ports", "Users"]
    assert [t.kind for t in selection.owner_terms] == ["pid", "process"]


def test_every_option_has_a_row():
    assert set(OPTIONS) == {"state", "port", "lport", "rport", "addr", "local", "remote",
                            "interface", "user", "pid", "process", "unit", "container"}


def test_owner_conditions_on_processes():
    from pynetstat.model.process import Container, ProcessInfo

    nginx = ProcessInfo(812, "nginx", exe="/usr/sbin/nginx-debug", unit="nginx.service")
    boxed = ProcessInfo(900, "python3", exe="/usr/bin/python3.11", container=Container(
        "9ec39b91f3d7" + "0" * 52, "docker", pod="dd1bf9d1-aaaa"))

    def holds(option, value, processes):
        return one(option, value).holds(processes)

    assert holds("pid", "812", [(812, None)]) and not holds("pid", "!812,1", [(812, nginx)])
    assert holds("pid", "!1", [])  # no visible owner: meets only negated conditions
    assert holds("process", "nginx-d*", [(812, nginx)])  # the executable's file name
    assert holds("process", "ngin?", [(1, boxed), (812, nginx)])  # the process name
    assert not holds("process", "NGINX", [(812, nginx)])
    assert not holds("process", "nginx", [(812, None)])  # details not read: PID only
    assert holds("unit", "*.service", [(812, nginx)]) and not holds("unit", "x", [(900, boxed)])
    for name in ("docker:9ec39b91f3d7", "9ec3", "docker:9ec39b", "dd1bf9d1-*", "docker:*"):
        assert holds("container", name, [(900, boxed)]), name
    assert not holds("container", "9ec", [(900, boxed)])  # too short for a prefix
    assert not holds("container", "docker:*", [(812, nginx)])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(OPTIONS)), st.text(max_size=30))
def test_any_text_parses_or_is_a_usage_error(option, value):
    """No value makes the parser fail otherwise (NUL bytes, odd digits, stray brackets...)."""
    try:
        filt = parse_filter([(option, value)], services_path="/nonexistent")
    except UsageError as error:
        assert "\n" not in str(error) and str(error).startswith(f"--{option}: ")
    else:
        try:
            filt.bind({})
        except UsageError as error:
            assert "unknown interface" in str(error)
