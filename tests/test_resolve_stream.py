"""Names.in_order: batches leave as soon as the foreign hosts in them have answered, in order,
while later batches are still being made; a spent budget lets everything through numerically.

Real lookups through the system resolver: 127.0.0.1 is named in every /etc/hosts.
(tests/attack/test_resolver*.py run the whole CLI against a DNS server that never answers.)
"""

from __future__ import annotations

import socket
import time

from pynetstat.model.sockets import InetSocket, SocketBatch
from pynetstat.resolve import Names

LOOPBACK_NAME = socket.getnameinfo(("127.0.0.1", 0), socket.NI_NAMEREQD)[0]


def _batch(i: int, remote: str) -> SocketBatch:
    return SocketBatch.from_sockets("tcp", 4, [
        InetSocket(proto="tcp", family=4, state=1, local_address="127.0.0.1", local_port=40000 + i,
                   remote_address=remote, remote_port=5432, scope=0, inode=100 + i, uid=0,
                   cookie=1 + i, recv_q=0, send_q=0)])


def test_batches_stream_as_their_names_answer():
    names = Names(budget=5.0)
    made = []

    def source():
        for i in range(30):
            made.append(i)
            time.sleep(0.02)
            yield _batch(i, "127.0.0.1")

    seen = [(batch.local_port[0] - 40000, len(made)) for batch in names.in_order(source())]
    assert [i for i, _ in seen] == list(range(30))
    assert seen[0][1] < 30, "the first batch waited for the last one to be made"
    assert names.host("127.0.0.1") == LOOPBACK_NAME and names.timed_out == 0


def test_spent_budget_lets_everything_through():
    names = Names(budget=0.0)
    batches = [_batch(i, f"127.0.0.{i + 1}") for i in range(5)]
    started = time.monotonic()
    assert list(names.in_order(iter(batches))) == batches
    assert time.monotonic() - started < 1.0
    assert names.timed_out == 5 and names.host("127.0.0.1") is None  # asked again next display


def test_wildcards_and_known_names_are_not_looked_up():
    names = Names(budget=5.0)
    names.hosts["127.0.0.9"] = "cached.example"
    batches = [_batch(0, "0.0.0.0"), _batch(1, "127.0.0.9")]
    assert list(names.in_order(iter(batches))) == batches
    assert names.timed_out == 0 and names.host("127.0.0.9") == "cached.example"
    assert "0.0.0.0" not in names.hosts
