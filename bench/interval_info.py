"""Interval mode with ``--info`` (issue 13): the CPU time of each pass, the first (what a single
``-an --info`` costs, imports included) against the later ones, which also measure each
connection's rates (model/passes.py); and the memory held between passes over many passes.

The fleet's loopback pairs (bench/fleet.py) in a private network namespace. pynetstat runs in a
forked child, in-process (``cli.main``), on a fake clock: passes run back to back (the interval
is not waited), stdout is a sink that keeps nothing and, at the end of each pass (interval mode
flushes stdout then), reads the child's CPU time (``getrusage``: user + system) and every
``--every`` passes its RSS (/proc/self/statm) and, with ``--tracemalloc``, the Python memory
held (``tracemalloc`` after ``gc.collect()``, less what this file's own readings hold). ``--src DIR``: the child imports pynetstat from
DIR/src (another checkout: the code before a change), so two commits are measured in the same
rounds. ``--single``: also a separate ``pynetstat -an --info`` process, CPU from ``wait4``.

    nice .venv/bin/python bench/interval_info.py --pairs 100000 --passes 6 --rounds 2 \\
        --src /tmp/base --single
    nice .venv/bin/python bench/interval_info.py --pairs 10000 --passes 300 --every 10 \\
        --tracemalloc
    nice .venv/bin/python bench/interval_info.py --pairs 30000 --passes 5 --rounds 0 \\
        --profile /tmp/passes.prof
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

import fleet
import netns

REPO = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Sink(io.TextIOBase):
    """stdout that keeps nothing; ``flush`` (the end of a pass) takes the readings."""

    def __init__(self, passes: int, every: int, traced: bool):
        self.passes, self.every, self.traced = passes, every, traced
        self.cpu: list[float] = []
        self.memory: list[dict[str, int]] = []
        self.written = 0
        self.last = cpu_now()

    def write(self, text: str) -> int:
        self.written += len(text)
        return len(text)

    def flush(self) -> None:
        now = cpu_now()
        self.cpu.append(now - self.last)
        n = len(self.cpu)
        if n % self.every == 0 or n == 1:
            reading = {"pass": n, "rss": rss()}
            if self.traced:
                import tracemalloc

                gc.collect()
                # what pynetstat holds: the traces of this file (the readings kept here, a
                # float a pass and a dict every ``every``) left out
                snapshot = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, __file__)])
                reading["traced"] = sum(stat.size for stat in snapshot.statistics("filename"))
            self.memory.append(reading)
        if n == self.passes:
            raise KeyboardInterrupt
        self.last = cpu_now()  # the readings above are not the next pass's

    def isatty(self) -> bool:
        return False


def child(src: str, argv: list[str], passes: int, every: int, traced: bool, wfd: int,
          profile: str | None = None) -> None:
    sys.path.insert(0, src)
    from pynetstat.cli import main
    from pynetstat.env import Environment

    if traced:
        import tracemalloc

        tracemalloc.start()
    sink = Sink(passes, every, traced)
    clock = Clock()
    env = Environment(sink, io.StringIO(), environ={}, monotonic=clock.monotonic,
                      sleep=clock.sleep, wall_clock=time.time)
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        status = profiler.runcall(main, argv, env)
        profiler.dump_stats(profile)
    else:
        status = main(argv, env)
    with os.fdopen(wfd, "w") as f:
        json.dump({"status": status, "cpu": sink.cpu, "memory": sink.memory,
                   "written": sink.written}, f)


def measure(src: str, argv: list[str], passes: int, every: int, traced: bool,
            profile: str | None = None) -> dict:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            child(src, argv, passes, every, traced, wfd, profile)
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def single(src: str) -> float:
    """CPU seconds (wait4) of one ``pynetstat -an --info`` process, stdout to /dev/null."""
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.environ["PYTHONPATH"] = src
        os.execv(sys.executable, [sys.executable, "-m", "pynetstat", "-an", "--info"])
    _, _status, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10000)
    parser.add_argument("--passes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--src", metavar="DIR", help="also the checkout in DIR, same rounds")
    parser.add_argument("--single", action="store_true")
    parser.add_argument("--args", default="-an --info", help="pynetstat's arguments")
    parser.add_argument("--profile", metavar="FILE",
                        help="also one run of this checkout under cProfile, its stats to FILE")
    options = parser.parse_args()
    argv = [*options.args.split(), "1"]
    sources = {"this": str(REPO / "src")}
    if options.src:
        sources["DIR"] = str(Path(options.src) / "src")
    netns.enter_private_netns()
    with fleet.Fleet(options.pairs, 4000, 600):
        print(f"{options.pairs} pairs; pynetstat {' '.join(argv)}; load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        runs: dict[str, list[dict]] = {name: [] for name in sources}
        singles: dict[str, list[float]] = {name: [] for name in sources}
        if options.profile:
            measure(sources["this"], argv, options.passes, options.every, False, options.profile)
        for _ in range(options.rounds):
            for name, src in sources.items():
                runs[name].append(measure(src, argv, options.passes, options.every,
                                          options.tracemalloc))
                if options.single:
                    singles[name].append(single(src))
        print(f"load average after {os.getloadavg()[0]:.2f}")
    for name, done in runs.items():
        for r in done:
            cpu = r["cpu"]
            later = median(cpu[1:]) if len(cpu) > 1 else float("nan")
            print(f"{name}: status {r['status']}, {len(cpu)} passes; CPU pass 1 {cpu[0]:.3f} s, "
                  f"later passes median {later:.3f} s (min {min(cpu[1:] or [0]):.3f}, "
                  f"max {max(cpu[1:] or [0]):.3f}): later/first {later / cpu[0]:.2f}")
            if len(r["memory"]) > 2:
                print("  pass  rss_MiB  traced_KiB")
                for m in r["memory"]:
                    traced = m.get("traced")
                    print(f"  {m['pass']:4d}  {m['rss'] / 2**20:7.1f}  "
                          f"{'' if traced is None else f'{traced / 1024:10.1f}'}")
        if singles[name]:
            print(f"{name}: single -an --info process CPU median {median(singles[name]):.3f} s "
                  f"({', '.join(f'{s:.3f}' for s in singles[name])})")


if __name__ == "__main__":
    main()
