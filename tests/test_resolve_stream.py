"""Names.in_order: batches leave as soon as the foreign hosts in them have answered, in order,
while later batches are still being made; a spent budget lets everything through numerically.

Real lookups through the system resolver: 127.0.0.1 is named in every /etc/hosts.
(tests/attack/test_resolver*.py run the whole CLI against a DNS server that never answers.)
"""

from __future__ import annotations

import socket
import time

from pynetstat.model.sockets import InetSocket, SocketBatch
from pynetstat.resolve import Lookups, Names, hosts_file_answers, parse_hosts

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


def test_hosts_file_answers_without_a_lookup_thread(tmp_path):
    """What /etc/hosts knows is answered at once, before any thread or network lookup (issue 21
    item 10); an address it does not know goes to the resolver."""
    (tmp_path / "hosts").write_text("# comment\n10.9.8.7 first.example alias\n10.9.8.7 second.example\n"
                                    "2001:0db8::0001 six.example\nfe80::1%eth0 zoned.example\n")
    (tmp_path / "nsswitch.conf").write_text("passwd: files\nhosts: files dns\n")
    names = Names(budget=5.0, hosts_path=str(tmp_path / "hosts"),
                  nsswitch_path=str(tmp_path / "nsswitch.conf"))
    lookups = Lookups(names)
    lookups.submit(["10.9.8.7", "::ffff:10.9.8.7", "2001:db8::1"])
    assert names.alive == 0 and lookups.deadline is None  # nothing left for the resolver
    assert names.host("10.9.8.7") == "first.example" == names.host("::ffff:10.9.8.7")
    assert names.host("2001:db8::1") == "six.example"


def test_hosts_file_is_not_read_when_nsswitch_leaves_it_out(tmp_path):
    assert parse_hosts(b"127.0.1.1 web01.example web01 # this host\nbad line\n"
                       b"10.0.0.1 nbsp\xc2\xa0name\n10.0.0.2 \xff\n10.0.0.2 second\n") == {
        "127.0.1.1": "web01.example", "10.0.0.1": "nbsp\xa0name", "10.0.0.2": None}
    assert hosts_file_answers(b"hosts: dns myhostname\n") is False
    assert hosts_file_answers(b"hosts:   files mdns4_minimal [NOTFOUND=return] dns\n") is True
    assert hosts_file_answers(None) is True
