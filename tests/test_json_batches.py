"""JSON rows written a batch at a time (render/jsonout.BatchEncoder) are, byte for byte, what
``json.dumps(connection_record(...))`` makes of each row: ``connection_record`` is the definition
of a row, the batch path only a faster way to write the same text.

Batches are drawn to reach both of its paths: plain ones (the template) and ones it must hand
to ``connection_record`` (a link-local scope, /proc's missing cookie), with and without owners,
with owners whose names hold control characters, quotes and non-ASCII text. UNIX batches have a
template of their own: drawn with every field the sources can give (unix_diag's, /proc's Nones,
forged duplicates, hostile names, peers with and without owners).
"""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from pynetstat.model.sockets import InetSocket, Owner, SocketBatch, UnixBatch, UnixSocketRecord
from pynetstat.render.jsonout import BatchEncoder, connection_record, write_connections
from pynetstat.render.owners import owner_json

IFNAMES = {0: "", 3: "eth\x1b0", 7: "v0"}

v4 = st.ip_addresses(v=4).map(str)
v6 = st.one_of(st.ip_addresses(v=6).map(str), st.sampled_from(
    ["::", "::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3"]))
owner = st.builds(Owner, st.integers(1, 4_000_000),
                  st.one_of(st.none(), st.text(max_size=8), st.sampled_from(['a"b\\c', "\x1b[31m", "é\u202e"])))


@st.composite
def batch(draw) -> tuple[SocketBatch, bool]:
    proto = draw(st.sampled_from(["tcp", "udp"]))
    family = draw(st.sampled_from([4, 6]))
    addr = v4 if family == 4 else v6
    kind = draw(st.sampled_from(["plain", "scoped", "proc"]))
    n = draw(st.integers(1, 10))
    u32 = st.integers(0, 2**32 - 1)
    sockets = [InetSocket(proto=proto, family=family, state=draw(st.integers(0, 255)),
                          local_address=draw(addr), local_port=draw(st.integers(0, 65535)),
                          remote_address=draw(addr), remote_port=draw(st.integers(0, 65535)),
                          scope=draw(st.sampled_from([3, 7, 0])) if kind == "scoped" else 0,
                          inode=draw(u32), uid=draw(u32),
                          cookie=None if kind == "proc" else draw(st.integers(1, 2**64 - 1)),
                          recv_q=draw(u32), send_q=draw(u32))
               for _ in range(n)]
    built = SocketBatch.from_sockets(proto, family, sockets)
    with_owners = draw(st.booleans())
    if with_owners:
        shared = draw(st.lists(owner, max_size=3).map(tuple))
        built.owners = tuple(draw(st.sampled_from([(), shared])) if draw(st.booleans())
                             else draw(st.lists(owner, max_size=3).map(tuple)) for _ in sockets)
    if draw(st.booleans()):  # the peer join ran (model/peers.py): 0 is no other end on this host
        built.peer = tuple(draw(st.sampled_from([0, 0, 1, 2**32 - 1])) for _ in sockets)
        built.peer_accepted = (None,) * n
        built.peer_owners = tuple(draw(st.lists(owner, max_size=2).map(tuple)) for _ in sockets)
    return built, with_owners


def peers_of(batch: SocketBatch, with_owners: bool) -> list:
    """The ``peer`` argument of ``connection_record`` for each row, from the batch's columns."""
    if not with_owners or batch.peer is None:
        return [None] * len(batch)
    return [(inode, owners) if inode else None for inode, owners in zip(batch.peer, batch.peer_owners)]


def _reference(batch: SocketBatch, with_owners: bool) -> list[str]:
    return [json.dumps(connection_record(sock, owners if with_owners else None, None,
                                         IFNAMES.__getitem__, None, None, peer))
            for (sock, owners), peer in zip(batch.rows(), peers_of(batch, with_owners))]


@settings(max_examples=examples(150), deadline=None)
@given(batch())
def test_batch_rows_are_connection_records(drawn):
    built, with_owners = drawn
    encoder = BatchEncoder(with_owners, None, IFNAMES.__getitem__, None)
    assert encoder.rows(built) == _reference(built, with_owners)


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(batch(), max_size=5), st.booleans())
def test_document(drawn, with_owners):
    """The whole document: rows of every batch in order, then the trailer; it parses."""
    batches = [b for b, _ in drawn]
    for b in batches:
        if not with_owners:
            b.owners = None
    out = io.StringIO()
    write_connections(out, batches, with_owners, None, IFNAMES.__getitem__, None,
                      lambda: {"sources": {"tcp": "netlink"}})
    rows = [row for b in batches for row in _reference(b, with_owners)]
    expected = ('{"schema_version": 1, "connections": ['
                + ("\n" + ",\n".join(rows) if rows else "")
                + '\n], "sources": {"tcp": "netlink"}}\n')
    assert out.getvalue() == expected
    assert out.getvalue().isascii()
    assert len(json.loads(out.getvalue())["connections"]) == len(rows)


name = st.one_of(st.none(), st.binary(max_size=12),
                 st.sampled_from([b"/run/a b\nc", b"@lit", b"\x1b[31m", "\u00e9\u202e".encode()]))
maybe_u32 = st.one_of(st.none(), st.integers(0, 2**32 - 1))


@st.composite
def unix_batch(draw) -> tuple[UnixBatch, bool, bool]:
    """A UNIX batch (unix_diag's fields, or /proc's: no cookie, uid or peer, maybe forged),
    whether owners were asked for, and whether as -b writes them (``owner_json``)."""
    n = draw(st.integers(1, 8))
    proc = draw(st.booleans())
    owners_joined = draw(st.booleans())
    sockets = []
    for _ in range(n):
        peer = draw(st.sampled_from([0, 0, 7, 2**32 - 1])) if not proc else draw(st.sampled_from([None, 0]))
        sockets.append(UnixSocketRecord(
            proto="unix", family=0, state=draw(st.sampled_from([1, 7, 10, 3, 200])),
            inode=draw(st.integers(0, 2**32 - 1)), uid=None if proc else draw(maybe_u32),
            cookie=None if proc else draw(st.integers(0, 2**64 - 1)),
            recv_q=draw(maybe_u32), send_q=draw(maybe_u32), type=draw(st.sampled_from([1, 2, 5, 9])),
            path=draw(name), abstract=draw(st.sampled_from([None, True, False])), peer=peer,
            peer_path=draw(name), peer_abstract=draw(st.sampled_from([None, True, False])),
            peer_owners=draw(st.lists(owner, max_size=2).map(tuple)) if owners_joined else None,
            verified=not proc, duplicate=proc and draw(st.booleans())))
    built = UnixBatch.from_sockets("unix", 0, sockets)
    with_owners = draw(st.booleans())
    if with_owners and draw(st.booleans()):
        built.owners = tuple(draw(st.lists(owner, max_size=3).map(tuple)) for _ in sockets)
    return built, with_owners, draw(st.booleans())


@settings(max_examples=examples(150), deadline=None)
@given(unix_batch())
def test_unix_batch_rows_are_connection_records(drawn):
    built, with_owners, rich = drawn
    as_json = owner_json if rich else None
    encoder = BatchEncoder(with_owners, None, IFNAMES.__getitem__, as_json)
    owners = built.owners if built.owners is not None else ((),) * len(built)
    expected = [json.dumps(connection_record(sock, found if with_owners else None, None,
                                             IFNAMES.__getitem__, as_json))
                for sock, found in zip(built.sockets(), owners)]
    assert encoder.rows(built) == expected
    assert encoder.rows(built) == expected  # again, from the memos the first made
