"""Without -n an IPv4-mapped foreign address is resolved like the IPv4 address inside it
(issue 11 item 6): ss shows ``localhost:7001`` for ``[::ffff:127.0.0.1]:7001``."""

from __future__ import annotations

import socket

import pytest
from record import has_ipv6

from conftest import run_inprocess
from pynetstat.resolve import Names

pytestmark = pytest.mark.skipif(not has_ipv6(), reason="no IPv6 on this host")


def _local_name() -> str:
    try:
        return socket.getnameinfo(("127.0.0.1", 0), socket.NI_NAMEREQD)[0]
    except OSError:
        pytest.skip("127.0.0.1 has no name here (/etc/hosts)")


def test_mapped_address_is_looked_up_as_ipv4():
    names = Names(budget=5)
    names.resolve_hosts(["::ffff:127.0.0.1"])
    assert names.host("::ffff:127.0.0.1") == _local_name()


def test_mapped_peer_prints_its_name():
    name = _local_name()
    listener = socket.socket(socket.AF_INET6)
    listener.bind(("::", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    server, _ = listener.accept()
    try:
        services = Names()
        local, remote = (services.service(p, "tcp") or str(p)
                         for p in (port, client.getsockname()[1]))
        result = run_inprocess(["-p", "tcpv6"], environ={"PYNETSTAT_RESOLVE_BUDGET": "5"})
        rows = [line.split() for line in result.stdout.splitlines()]
        (mine,) = [r for r in rows if r[:2] == ["TCP", f"[::ffff:127.0.0.1]:{local}"]
                   and r[2].rpartition(":")[2] == remote]
        assert mine[2] == f"{name}:{remote}", result.stdout
    finally:
        for s in (client, server, listener):
            s.close()
