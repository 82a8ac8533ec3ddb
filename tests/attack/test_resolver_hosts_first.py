"""Issue 21 item 10: with a silent DNS and a few hundred foreign addresses, every name that
/etc/hosts knows is shown. Before, lookups that the local files answer at once queued behind
the stuck DNS lookups (MAX_THREADS of them, each held 30 s by glibc), and only the few that got
a thread in time were shown. The local files are now asked first, without the network.

The scene is test_resolver.py's: a private mount namespace, a silent DNS on loopback, glibc told
to wait 30 s, nsswitch ``files dns``."""

from __future__ import annotations

import random

import pytest

from .check import assert_quiet_stderr, parse_json, parse_table
from .test_resolver import pytestmark, run_in_namespace  # noqa: F401  (pytestmark: root, unshare)
from .test_resolver_names import peer_scene

UNNAMED = 300
NAMED = 20


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    """Hundreds of peers DNS is asked about (and never answers); the last NAMED are in
    /etc/hosts."""
    net = random.randrange(2, 250)
    peers = [f"127.62.{net}.{i}" for i in range(1, 251)] + [
        f"127.63.{net}.{i}" for i in range(1, UNNAMED + NAMED - 250 + 1)]
    names = {address: f"host{i}.files.test" for i, address in enumerate(peers[-NAMED:])}
    yield from peer_scene(tmp_path_factory, "resolver-crowd", f"127.61.{net}.1", peers, names,
                          f"127.64.{net}.1")


@pytest.mark.parametrize("argv", [["-af", "-p", "tcp"], ["-a", "-p", "tcp", "--json"]], ids=" ".join)
def test_every_name_the_hosts_file_knows_is_shown(crowd, argv):
    status, out, err, took = run_in_namespace(crowd, argv)
    assert status == 0, err
    assert_quiet_stderr(err)
    assert took < 6, f"took {took:.1f} s"
    names = crowd["names"]
    expected = sorted(names.get(a, a) for a in crowd["peers"])
    if "--json" in argv:
        mine = [c for c in parse_json(out)["connections"] if c["remote_address"] in crowd["peers"]
                and c["state"] != "LISTENING" and c["local_port"] == crowd["server"][1]]
        assert sorted(c["remote_host"] or c["remote_address"] for c in mine) == expected
    else:
        server = f"{crowd['server'][0]}:{crowd['server'][1]}"
        rows = parse_table(out, pids=False, numeric=False)
        shown = sorted(r[2].rpartition(":")[0] for r in rows
                       if r[1] == server and r[3] != "LISTENING")
        assert shown == expected
