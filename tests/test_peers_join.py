"""The peer join (model/peers.py) on hand-made batches: which socket is the other end of which,
whatever the order, the family or the batch it is in; what never is one."""

from __future__ import annotations

import random

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
