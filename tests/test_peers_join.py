"""The peer join (model/peers.py) on hand-made batches: which socket is the other end of which,
whatever the order, the family or the batch it is in; what never is one."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from pynetstat.model.peers import join_peers
from pynetstat.model.sockets import InetSocket, SocketBatch

CLOSE, LISTEN, ESTABLISHED, TIME_WAIT = 7, 10, 1, 6


def _sock(proto, family, local, lport, remote, rport, inode, state=ESTABLISHED):
    return InetSocket(proto=proto, family=family, state=state, inode=inode, uid=0, cookie=inode,
                      recv_q=0, send_q=0, local_address=local, local_port=lport,
                      remote_address=remote, remote_port=rport, scope=0)


def _batches(socks, size):
    """The sockets in batches of ``size`` per (protocol, family), as a dump gives them."""
    out = []
    for key in sorted({(s.proto, s.family) for s in socks}):
        mine = [s for s in socks if (s.proto, s.family) == key]
        out += [SocketBatch.from_sockets(*key, mine[i:i + size]) for i in range(0, len(mine), size)]
    return out


def _peers(batches):
    """inode -> the inode of its other end (0: none), for the sockets a process may hold."""
    return {inode: peer for b in batches for inode, peer in zip(b.inode, b.peer) if inode}


SCENE = [
    # a loopback pair, its accepted end in a tcp6 socket of a dual-stack listener
    _sock("tcp", 4, "127.0.0.1", 40000, "127.0.0.1", 5432, 1),
    _sock("tcp", 6, "::ffff:127.0.0.1", 5432, "::ffff:127.0.0.1", 40000, 2),
    _sock("tcp", 6, "::", 5432, "::", 0, 3, LISTEN),
    # a pair to an address of this host that is not loopback
    _sock("tcp", 4, "10.0.0.5", 41000, "10.0.0.5", 22, 4),
    _sock("tcp", 4, "10.0.0.5", 22, "10.0.0.5", 41000, 5),
    # a TIME_WAIT socket with the same ends as a live one: never in its place
    _sock("tcp", 4, "10.0.0.5", 22, "10.0.0.5", 41000, 0, TIME_WAIT),
    # remote clients of a server: no other end here
    *(_sock("tcp", 4, "10.0.0.5", 443, f"198.51.100.{i}", 30000 + i, 100 + i) for i in range(50)),
    # an IPv6 pair over ::1
    _sock("tcp", 6, "::1", 42000, "::1", 8080, 6),
    _sock("tcp", 6, "::1", 8080, "::1", 42000, 7),
    # the same ports over UDP: another protocol, never a TCP socket's other end
    _sock("udp", 4, "127.0.0.1", 40000, "127.0.0.1", 5432, 8),
    _sock("udp", 4, "127.0.0.1", 5432, "127.0.0.1", 40000, 9),
    _sock("udp", 4, "0.0.0.0", 53, "0.0.0.0", 0, 10, CLOSE),
]
EXPECTED = {1: 2, 2: 1, 3: 0, 4: 5, 5: 4, 6: 7, 7: 6, 8: 9, 9: 8, 10: 0,
            **{100 + i: 0 for i in range(50)}}


def test_each_end_finds_the_other_in_any_order_and_batching():
    for seed in range(20):
        socks = SCENE[:]
        random.Random(seed).shuffle(socks)
        batches = _batches(socks, 1 + seed % 7)
        join_peers(batches)
        assert _peers(batches) == EXPECTED


def test_the_arrow_says_which_end_was_accepted():
    batches = _batches(SCENE, 100)
    join_peers(batches)
    accepted = {i: a for b in batches for i, a in zip(b.inode, b.peer_accepted)}
    # 5432 is listened on: 2 was accepted, 1 connected; no listener holds 22 or 8080; UDP: None
    assert (accepted[1], accepted[2], accepted[4], accepted[6], accepted[8]) == (
        False, True, None, None, None)


def test_sockets_a_filter_left_out_are_found_but_not_listed():
    listed = _batches([s for s in SCENE if s.inode in (1, 4)], 10)
    left_out = _batches([s for s in SCENE if s.inode in (2, 5)], 10)
    join_peers(listed, left_out)
    assert _peers(listed) == {1: 2, 4: 5}
    assert all(b.peer is None for b in left_out)


def _reference(listed, more):
    """The join's meaning, socket by socket: the inode of the last socket (``more`` first, then
    the listing) of the same protocol, with an inode, whose 4-tuple is this one's reversed
    (IPv4-mapped ends as IPv4), when both its addresses are ones some socket is bound to and
    not the wildcard; else, for UDP, the server it sends to (``_udp_server``); else 0."""
    def plain(address):
        return address[7:] if address.startswith("::ffff:") and "." in address else address

    every = [s for b in [*more, *listed] for s in b.sockets()]
    bound = {plain(s.local_address) for s in every} - {"0.0.0.0", "::"}
    out = []
    for b in listed:
        for s in b.sockets():
            want = (s.proto, plain(s.remote_address), s.remote_port, plain(s.local_address),
                    s.local_port)
            found = 0
            if plain(s.remote_address) in bound and plain(s.local_address) in bound:
                for o in every:
                    if o.inode and (o.proto, plain(o.local_address), o.local_port,
                                    plain(o.remote_address), o.remote_port) == want:
                        found = o.inode
            if not found and s.proto == "udp" and s.remote_port and plain(s.remote_address) in bound:
                found = _udp_server(every, plain(s.remote_address), s.remote_port)
            out.append(found)
    return out


def _udp_server(every, address, port):
    """A connected UDP socket with no connected other end: the one unconnected UDP socket (with
    an inode) bound to its remote end, else to that port on the wildcard (an IPv4 end: 0.0.0.0,
    then ::); two such sockets on the first end that has any: none."""
    def plain(a):
        return a[7:] if a.startswith("::ffff:") and "." in a else a

    for candidate in ([address, "0.0.0.0", "::"] if "." in address else [address, "::"]):
        servers = [o for o in every if o.proto == "udp" and o.inode and o.remote_port == 0
                   and plain(o.local_address) == candidate and o.local_port == port]
        if servers:
            return servers[0].inode if len(servers) == 1 else 0
    return 0


_ADDRESSES = ["127.0.0.1", "::ffff:127.0.0.1", "::1", "10.0.0.5", "0.0.0.0", "::", "198.51.100.7"]


@st.composite
def _scene(draw):
    """Sockets with few addresses and ports, so that 4-tuples meet, repeat, face themselves
    and carry inode 0; some of them left out of the listing (``more``)."""
    end = st.tuples(st.sampled_from(_ADDRESSES), st.sampled_from([0, 22, 5432, 40000]))
    socks = []
    drawn = draw(st.lists(st.tuples(end, end, st.sampled_from(["tcp", "udp"]), st.booleans(),
                                    st.sampled_from([ESTABLISHED, LISTEN, TIME_WAIT]),
                                    st.booleans()), max_size=30))
    for (local, lport), (remote, rport), proto, inode0, state, twin in drawn:
        # twin: the same socket seen from the other end too (a pair, whatever its state)
        for ends in [(local, lport, remote, rport)] + [(remote, rport, local, lport)] * twin:
            a, aport, b, bport = ends
            family = 6 if ":" in a or ":" in b else 4
            if family == 6:  # an IPv6 socket writes its IPv4 ends mapped
                a, b = (x if ":" in x else "::ffff:" + x for x in (a, b))
            socks.append(_sock(proto, family, a, aport, b, bport,
                               0 if inode0 and draw(st.booleans()) else len(socks) + 1, state))
    left = draw(st.lists(st.booleans(), min_size=len(socks), max_size=len(socks)))
    size = draw(st.integers(1, 7))
    return (_batches([s for s, x in zip(socks, left) if not x], size),
            _batches([s for s, x in zip(socks, left) if x], size))


@given(_scene())
@settings(max_examples=examples(100), deadline=None)
def test_the_join_is_the_socket_by_socket_reference(scene):
    listed, more = scene
    join_peers(listed, more)
    assert [p for b in listed for p in b.peer] == _reference(listed, more)


def test_more_addresses_than_a_two_digit_key_holds():
    # 20,000 distinct bound addresses: the key's shift grows past 30 bits (model/peers.py)
    socks = []
    for i in range(20_000):
        a, b = f"10.{i >> 8 & 255}.{i & 255}.1", f"10.{i >> 8 & 255}.{i & 255}.2"
        socks += [_sock("tcp", 4, a, 40000, b, 5432, 2 * i + 1),
                  _sock("tcp", 4, b, 5432, a, 40000, 2 * i + 2)]
    batches = _batches(socks, 300)
    join_peers(batches)
    assert _peers(batches) == {2 * i + 1 + j: 2 * i + 2 - j for i in range(20_000) for j in (0, 1)}
