"""Name resolution that answers for some peers: those named in /etc/hosts print as names even
while a DNS server that never answers holds the lookups of the others (test_resolver.py has the
scene: a private mount namespace, a silent DNS on loopback, glibc told to wait 30 s)."""

from __future__ import annotations

import random
import socket

import pytest

from .check import assert_quiet_stderr, close_hard, parse_json, parse_table
from .test_resolver import SilentDNS, pytestmark, resolver_conf, run_in_namespace  # noqa: F401  (pytestmark: root, unshare)

NAMED = 12
UNNAMED = 32  # four times the lookup workers: enough to hold them all on the silent DNS


@pytest.fixture(scope="module")
def named_scene(tmp_path_factory):
    """Peers of which some have a name in /etc/hosts; the others only the silent DNS."""
    net = random.randrange(2, 250)
    dns = SilentDNS(f"127.57.{net}.1")
    peers = [f"127.58.{net}.{i + 1}" for i in range(NAMED + UNNAMED)]
    names = {address: f"peer{i}.named.test" for i, address in enumerate(peers[:NAMED])}
    conf = resolver_conf(tmp_path_factory, "resolver-named", dns, names)
    listener = socket.socket()
    listener.bind((f"127.59.{net}.1", 0))
    listener.listen(len(peers) + 1)
    held = [listener]
    for address in peers:
        c = socket.socket()
        c.bind((address, 0))
        c.connect(listener.getsockname())
        a, _ = listener.accept()
        held += [c, a]
    yield {"conf": conf, "dns": dns, "names": names, "peers": set(peers),
           "server": listener.getsockname()}
    close_hard(held)
    dns.close()


@pytest.mark.parametrize("argv", [["-a", "-p", "tcp"], ["-ao", "-p", "tcp"], ["-a", "-p", "tcp", "--json"]],
                         ids=" ".join)
def test_names_that_answer_are_shown(named_scene, argv):
    """Peers named in /etc/hosts print as their names, the others (whose lookups never answer)
    as numbers, every row once, within the budget."""
    status, out, err, took = run_in_namespace(named_scene, argv)
    assert status == 0, err
    assert_quiet_stderr(err)
    assert took < 6, f"took {took:.1f} s"
    names = named_scene["names"]
    server = named_scene["server"]
    expected = sorted(names.get(a, a) for a in named_scene["peers"])
    if "--json" in argv:
        doc = parse_json(out)
        mine = [c for c in doc["connections"] if c["remote_address"] in named_scene["peers"]]
        assert sorted(c["remote_host"] or c["remote_address"] for c in mine) == expected
        assert all(c["remote_host"] == names.get(c["remote_address"]) for c in mine)
    else:
        rows = parse_table(out, pids="o" in argv[0], numeric=False)
        shown = sorted(r[2].rpartition(":")[0] for r in rows
                       if r[1] == f"{server[0]}:{server[1]}" and r[3] != "LISTENING")
        assert shown == expected
