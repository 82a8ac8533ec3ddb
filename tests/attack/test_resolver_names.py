"""Name resolution that answers for some peers: those named in /etc/hosts print as names even
while a DNS server that never answers holds the lookups of the others (test_resolver.py has the
scene: a private mount namespace, a silent DNS on loopback, glibc told to wait 30 s)."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import time

import pytest

from pynetstat.resolve import MAX_THREADS

from .check import assert_quiet_stderr, close_hard, command, parse_json, parse_table, subprocess_env
from .test_resolver import SilentDNS, pytestmark, resolver_conf, run_in_namespace  # noqa: F401  (pytestmark: root, unshare)

NAMED = 12
UNNAMED = 32  # four times the lookup workers: enough to hold them all on the silent DNS


@pytest.fixture(scope="module")
def named_scene(tmp_path_factory):
    """Peers of which some have a name in /etc/hosts; the others only the silent DNS."""
    net = random.randrange(2, 250)
    peers = [f"127.58.{net}.{i + 1}" for i in range(NAMED + UNNAMED)]
    names = {address: f"peer{i}.named.test" for i, address in enumerate(peers[:NAMED])}
    yield from peer_scene(tmp_path_factory, "resolver-named", f"127.57.{net}.1", peers, names,
                          f"127.59.{net}.1")


def peer_scene(tmp_path_factory, name: str, dns_address: str, peers: list[str],
               names: dict[str, str], server: str):
    """A silent DNS, /etc/hosts naming ``names``, and a connection from each of ``peers`` to a
    listener on ``server``: the dict run_in_namespace takes, until the generator is closed."""
    dns = SilentDNS(dns_address)
    conf = resolver_conf(tmp_path_factory, name, dns, names)
    listener = socket.socket()
    listener.bind((server, 0))
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


@pytest.mark.parametrize("argv", [["-af", "-p", "tcp"], ["-aof", "-p", "tcp"], ["-a", "-p", "tcp", "--json"]],
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


def test_interval_session_keeps_its_threads_bounded(named_scene):
    """Interval mode against the silent DNS: each display would ask the silent addresses again;
    a lookup still running is not asked again, and never more than MAX_THREADS threads live, so
    the threads stay bounded however many displays pass, and every display still shows the
    names /etc/hosts knows."""
    conf = named_scene["conf"]
    binds = " && ".join(f"mount --bind {conf / name} /etc/{name}"
                        for name in ("resolv.conf", "hosts", "nsswitch.conf"))
    env = subprocess_env()
    env.pop("PYNETSTAT_RESOLVE_BUDGET")
    script = f"{binds} && exec {' '.join(command(['-af', '-p', 'tcp', '0.3']))}"
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        threads = []
        for _ in range(12):  # 6 s: three displays' budgets and more, several overdue rounds
            time.sleep(0.5)
            with open(f"/proc/{p.pid}/status") as f:
                threads.append(next(int(line.split()[1]) for line in f if line.startswith("Threads:")))
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    assert p.returncode == 130, err
    assert max(threads) <= MAX_THREADS + 1, threads  # + the main thread
    displays = out.decode().split("Active Connections")[1:]
    # A display waits at most the budget (2 s) for lookups it started itself: with more silent
    # addresses than threads (other tests' TIME_WAIT peers), each one does.
    assert len(displays) >= 2
    for display in displays[:-1]:  # the last may have been cut by Ctrl+C
        for name in named_scene["names"].values():
            assert name in display
