"""Which addresses are link-local, and what that changes in a row (render/endpoints.py)."""

from __future__ import annotations

import pytest

from pynetstat.model.sockets import InetSocket
from pynetstat.render.endpoints import endpoint_cells, is_link_local
from pynetstat.render.jsonout import connection_record


@pytest.mark.parametrize("address", ["fe80::1", "FE80::1", "fe84::1", "fe9f::2", "febf::1",
                                     "febf:ffff::1", "169.254.3.4"])
def test_link_local(address):
    """fe80::/10 (RFC 4291 2.5.6): fe80 to febf in the first group, not only fe80-fe83."""
    assert is_link_local(address)


@pytest.mark.parametrize("address", ["fec0::1", "fe7f::1", "fe8::1", "fe80", "::1", "2001:db8::1",
                                     "169.255.0.1", "127.0.0.1", "::ffff:169.254.1.1"])
def test_not_link_local(address):
    assert not is_link_local(address)


def test_a_socket_on_febf_shows_its_zone():
    sock = InetSocket(proto="tcp", family=6, state=10, local_address="febf::1", local_port=80,
                      remote_address="::", remote_port=0, scope=3, inode=1, uid=0, cookie=1,
                      recv_q=0, send_q=0)
    assert endpoint_cells(sock, {3: "v0"}.__getitem__, None)[0] == "[febf::1%v0]:80"
    record = connection_record(sock, None, None, {3: "v0"}.__getitem__, None)
    assert record["link_local"] is True and record["interface"] == "v0"
