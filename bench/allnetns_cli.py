"""Time ``pynetstat --all-netns -ano`` over many namespaces against ``pynetstat -ano`` over the
same number of sockets in one namespace, and against a shell loop of ``ip netns exec NS ss -tanp``
over the namespaces (issue 15's targets: at most 2x and at most 0.2x).

Usage (as root; stdlib only; the venv's interpreter)::

    .venv/bin/python bench/allnetns_cli.py [--namespaces 50] [--sockets 2000] [--repeat 3]

It makes ``--namespaces`` namespaces (``ip netns add k15bench-<pid>-<i>``), then one,
``...-one``, holding as many sockets as all of them together. Each namespace gets listeners
and established loopback pairs to them (a pair is two sockets; 1,000 pairs per listener at
most), made and held by holder processes started in it (``ip netns exec``, at most 16,000
sockets each), so every socket has an owner for ``-o`` to find. Then, in two phases (the namespaces, then the one namespace alone: every sock_diag dump walks the
kernel's shared TCP hash table, so sockets left from the other phase would slow every dump),
each command ``--repeat`` times in rounds, stdout on /dev/null, best and median:

* ``pynetstat --all-netns -ano``: every namespace of the host (the bench's, the host's and any
  other on the machine: the count is printed);
* ``pynetstat --netns k15bench-...-one -ano``: the same number of sockets in one namespace;
* ``sh -c 'for ns in NAMES; do ip netns exec $ns ss -tanp; done'``.

Everything it made is removed at the end, also on error (and on SIGTERM).

On a shared machine, run it alone in PID, mount and network namespaces of its own, so that the
"host" of ``--all-netns`` is an empty namespace, /proc holds only the bench's processes and
/run/netns only its namespaces (others' mounts still show in the mount table, hidden: each is
one failed open)::

    unshare --pid --fork --mount-proc --mount --net sh -c 'mkdir -p /run/netns &&
        mount -t tmpfs k15tmpfs /run/netns && ip link set lo up &&
        exec .venv/bin/python bench/allnetns_cli.py --namespaces 50 --sockets 200'

What no namespace isolates: the kernel keeps TCP sockets of every namespace in one hash table
(unless ``net.ipv4.tcp_child_ehash_entries`` was set when a namespace was made), and a sock_diag
dump walks all of it and skips the sockets of other namespaces; so each namespace's dump costs
in proportion to every TCP socket on the machine, for pynetstat as for ss.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))


# A holder: run inside a namespace (``ip netns exec``), makes its sockets there and holds them.
HOLDER = r"""
import socket, sys, time
pairs, held = int(sys.argv[1]) // 2, []
while pairs > 0:
    srv = socket.create_server(("127.0.0.1", 0), backlog=1000)
    held.append(srv)
    for _ in range(min(pairs, 1000)):
        held.append(socket.create_connection(srv.getsockname()))
        held.append(srv.accept()[0])
    pairs -= 1000
print("ready", flush=True)
time.sleep(3600)
"""
# Sockets one holder keeps (RLIMIT_NOFILE's hard limit may be low, and we may not raise it).
PER_HOLDER = 16000


def _populate(name: str, sockets: int, holders: list) -> None:
    """Holders inside namespace ``name`` with ``sockets`` sockets between them."""
    while sockets > 0:
        n = min(sockets, PER_HOLDER)
        proc = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", HOLDER,
                                 str(n)], stdout=subprocess.PIPE, text=True,
                                preexec_fn=_raise_nofile)
        holders.append(proc)
        sockets -= n
    for proc in holders:
        if proc.stdout is not None and not proc.stdout.closed:
            assert proc.stdout.readline().strip() == "ready"
            proc.stdout.close()


def _raise_nofile() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _count(argv: list[str]) -> int:
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if " TCP " in f" {line} ")


def _phase(names: list[str], sockets: int, commands: dict[str, list[str]],
           repeat: int) -> dict[str, list[float]]:
    """Make the namespaces and their sockets, time each command ``repeat`` times in rounds,
    remove everything (also on error)."""
    holders: list = []
    try:
        batch = "".join(f"netns add {n}\n" for n in names)
        subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True)
        t0 = time.perf_counter()
        for n in names:
            subprocess.run(["ip", "-n", n, "link", "set", "lo", "up"], check=True)
            _populate(n, sockets, holders)
        print(f"  made {len(names) * sockets} sockets in {len(names)} namespace(s), "
              f"{len(holders)} holders, in {time.perf_counter() - t0:.1f} s", flush=True)
        for key, argv in commands.items():
            if key.startswith("pynetstat"):
                print(f"  {key}: {_count(argv)} TCP rows", flush=True)
        times: dict[str, list[float]] = {key: [] for key in commands}
        for _ in range(repeat):
            for key, argv in commands.items():
                times[key].append(_once(argv))
        for key, took in times.items():
            print(f"  {key}: {min(took):.3f} s / {statistics.median(took):.3f} s", flush=True)
        return times
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()
        batch = "".join(f"netns del {n}\n" for n in names)
        subprocess.run(["ip", "-force", "-batch", "-"], input=batch, text=True,
                       stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    # SIGTERM (timeout(1)) ends the run through the finally clauses, which remove what was made.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    total = args.namespaces * args.sockets
    prefix = f"k15bench-{os.getpid()}-"
    names = [f"{prefix}{i}" for i in range(args.namespaces)]
    one = f"{prefix}one"
    py = [sys.executable, os.path.join(REPO, "pynetstat")]
    loop = f"for ns in {' '.join(names)}; do ip netns exec $ns ss -tanp; done"
    many = {"pynetstat --all-netns -ano": [*py, "--all-netns", "-ano"],
            "shell loop of ip netns exec NS ss -tanp": ["sh", "-c", loop]}
    single = {"pynetstat --netns ONE -ano": [*py, "--netns", one, "-ano"]}
    print(f"{args.namespaces} namespaces x {args.sockets} sockets, then {total} sockets in one "
          f"namespace; {args.repeat} runs each, best / median; load average before: "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    times = _phase(names, args.sockets, many, args.repeat)
    times |= _phase([one], total, single, args.repeat)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    a = statistics.median(times["pynetstat --all-netns -ano"])
    b = statistics.median(times["pynetstat --netns ONE -ano"])
    c = statistics.median(times["shell loop of ip netns exec NS ss -tanp"])
    print(f"ratio --all-netns / one namespace: {a / b:.2f} (target <= 2)")
    print(f"ratio --all-netns / shell loop: {a / c:.3f} (target <= 0.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
