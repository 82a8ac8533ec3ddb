"""Time ``pynetstat --all-netns -ano`` over many namespaces against ``pynetstat -ano`` over the
same number of sockets in one namespace, and against a shell loop of ``ip netns exec NS ss -tanp``
over the namespaces (issue 15's targets: at most 2x and at most 0.2x).

Usage (as root; stdlib only; the venv's interpreter)::

    .venv/bin/python bench/allnetns_cli.py [--namespaces 50] [--sockets 2000] [--repeat 3]
                                           [--compare CHECKOUT] [--child-ehash N]
                                           [--interval-passes N]

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
* ``sh -c 'for ns in NAMES; do ip netns exec $ns ss -tanp; done'``;
* with ``--compare CHECKOUT`` (another checkout, say ``git archive REV | tar -x -C DIR``), its
  ``pynetstat --all-netns -ano`` and ``--netns ONE -ano`` too, in the same rounds: a before and
  after measured under the same load.

With ``--interval-passes N``, also ``pynetstat --all-netns -ano 0.01`` and the same with
``--changes`` (passes back to back): the median wall and CPU time of N passes after the first,
from the pass log, beside the single run's in the same rounds (a pass has no interpreter
start-up to pay, nor, with the namespaces' netlink sockets kept, a setns).

Everything it made is removed at the end, also on error (and on SIGTERM).

On a shared machine, run it alone in PID, mount and network namespaces of its own, so that the
"host" of ``--all-netns`` is an empty namespace, /proc holds only the bench's processes and
/run/netns only its namespaces (others' mounts still show in the mount table, hidden: each is
one failed open)::

    unshare --pid --fork --mount-proc --mount --net sh -c 'mkdir -p /run/netns &&
        mount -t tmpfs k15tmpfs /run/netns && ip link set lo up &&
        exec .venv/bin/python bench/allnetns_cli.py --namespaces 50 --sockets 200'

``--child-ehash N`` sets ``net.ipv4.tcp_child_ehash_entries`` to N in the bench's own network
namespace (a per-namespace setting: it sizes the TCP hash tables of the namespaces made from this
one afterwards, Linux 5.19+), so that every namespace the bench makes gets a private table; the
old value is put back at the end. Run it in a namespace of its own (as above), or it changes the
host's setting for the duration.

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

import bytecode

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


def _once(argv: list[str]) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system, the kernel's dump work included) of the
    command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _passes(argv: list[str], n: int) -> tuple[float, float]:
    """Interval mode: start ``argv`` (an interval), let it make ``n`` + 1 passes, stop it
    (SIGINT); the median wall and CPU time of passes 2 to ``n`` + 1, from its pass log
    (``PYNETSTAT_PASS_TIMES``: ``seconds`` and ``cpu``, the pass alone, start-up not
    included)."""
    import json
    import tempfile

    with tempfile.NamedTemporaryFile("r", prefix="allnetns-passes-", suffix=".jsonl") as log:
        env = dict(os.environ, PYNETSTAT_PASS_TIMES=log.name)
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        try:
            lines: list[str] = []
            while len(lines) < n + 1:
                if proc.poll() is not None:
                    raise SystemExit(f"{argv} ended ({proc.returncode})")
                time.sleep(0.05)
                lines += log.readlines()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait()
    passes = [json.loads(line) for line in lines[1:n + 1]]
    return (statistics.median(p["seconds"] for p in passes),
            statistics.median(p["cpu"] for p in passes))


def _count(argv: list[str]) -> int:
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if " TCP " in f" {line} ")


def _phase(names: list[str], sockets: int, commands: dict[str, list[str]],
           repeat: int, passes: int = 0) -> dict[str, list[float]]:
    """Make the namespaces and their sockets, time each command ``repeat`` times in rounds,
    remove everything (also on error). A command whose key ends in "per pass" runs in interval
    mode: its times are the median of ``passes`` passes of each round (``_passes``)."""
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
            if key.startswith("pynetstat") and not key.endswith("per pass"):
                print(f"  {key}: {_count(argv)} TCP rows", flush=True)
        times: dict[str, list[float]] = {key: [] for key in commands}
        cpu: dict[str, list[float]] = {key: [] for key in commands}
        for _ in range(repeat):
            for key, argv in commands.items():
                took, used = _passes(argv, passes) if key.endswith("per pass") else _once(argv)
                times[key].append(took)
                cpu[key].append(used)
        for key in [k for k in commands if k.endswith("per pass")]:
            once = key.split(", ")[0] + " -ano"
            if once in cpu:
                print(f"  {key} / {once} (CPU, medians, same rounds): "
                      f"{statistics.median(cpu[key]) / statistics.median(cpu[once]):.2f}")
        for key, took in times.items():
            print(f"  {key}: {min(took):.3f} s / {statistics.median(took):.3f} s wall, "
                  f"CPU (user+sys) median {statistics.median(cpu[key]):.3f} s", flush=True)
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
    ap.add_argument("--compare", metavar="CHECKOUT",
                    help="another checkout whose pynetstat is timed in the same rounds")
    ap.add_argument("--interval-passes", type=int, default=0, metavar="N",
                    help="also time N passes of --all-netns -ano in interval mode (and with "
                         "--changes), each pass against a single run, in the same rounds")
    ap.add_argument("--child-ehash", type=int, metavar="N",
                    help="net.ipv4.tcp_child_ehash_entries for the namespaces the bench makes")
    args = ap.parse_args()
    print(bytecode.precompile())
    if args.compare:
        print(bytecode.precompile(args.compare))
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
    if args.interval_passes:
        many["pynetstat --all-netns, -ano 0.01 per pass"] = [*py, "--all-netns", "-ano", "0.01"]
        many["pynetstat --all-netns, -ano --changes 0.01 per pass"] = [
            *py, "--all-netns", "-ano", "--changes", "0.01"]
    single = {"pynetstat --netns ONE -ano": [*py, "--netns", one, "-ano"]}
    if args.compare:
        other = [sys.executable, os.path.join(os.path.abspath(args.compare), "pynetstat")]
        many["compared pynetstat --all-netns -ano"] = [*other, "--all-netns", "-ano"]
        single["compared pynetstat --netns ONE -ano"] = [*other, "--netns", one, "-ano"]
    print(f"{args.namespaces} namespaces x {args.sockets} sockets, then {total} sockets in one "
          f"namespace; {args.repeat} runs each, best / median; load average before: "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    sysctl = "/proc/sys/net/ipv4/tcp_child_ehash_entries"
    before = None
    if args.child_ehash is not None:
        with open(sysctl) as f:
            before = f.read().strip()
        with open(sysctl, "w") as f:
            f.write(str(args.child_ehash))
        print(f"net.ipv4.tcp_child_ehash_entries = {args.child_ehash} (was {before}): each "
              "namespace made has a TCP hash table of its own", flush=True)
    try:
        times = _phase(names, args.sockets, many, args.repeat, args.interval_passes)
        times |= _phase([one], total, single, args.repeat)
    finally:
        if before is not None:
            with open(sysctl, "w") as f:
                f.write(before)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    a = statistics.median(times["pynetstat --all-netns -ano"])
    b = statistics.median(times["pynetstat --netns ONE -ano"])
    c = statistics.median(times["shell loop of ip netns exec NS ss -tanp"])
    print(f"ratio --all-netns / one namespace: {a / b:.2f} (target <= 2)")
    print(f"ratio --all-netns / shell loop: {a / c:.3f} (target <= 0.2)")
    if args.compare:
        d = statistics.median(times["compared pynetstat --all-netns -ano"])
        e = statistics.median(times["compared pynetstat --netns ONE -ano"])
        print(f"compared checkout: --all-netns {d:.3f} s, / one namespace {d / e:.2f}, "
              f"/ shell loop {d / c:.3f}; this checkout / compared: {a / d:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
