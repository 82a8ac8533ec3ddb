"""What a scrape of ``pynetstat --serve`` costs beside ``pynetstat -ano --json`` (issue 19).

    sudo .venv/bin/python bench/serve_cost.py [--sizes 5k,50k] [--repeat 5]

In a private network namespace (netns.py), for each size N: N established loopback pairs (2N
sockets, fleet.py), one exporter started on 127.0.0.1, then ``--repeat`` rounds of one timed
scrape (urllib, the whole body read) and one timed ``-ano --json`` run (stdout to /dev/null, peak
RSS from GNU time or wait4). Reported: the medians, their ratio (target: a scrape at most 1.5x
``-ano --json`` at 200k sockets), the exporter's peak RSS (VmHWM: its whole life, idle start-up
included; target under 80 MiB), its RSS after the first and the last scrape (flat = no leak),
and ``--concurrent`` scrapes sent at once: how long until all are answered, and how many scans
they made (they share the scan in flight).
Needs the exporter extra (prometheus_client) in the interpreter that runs this.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(HERE)

import bytecode  # noqa: E402
import fleet  # noqa: E402
import machine  # noqa: E402
import netns  # noqa: E402
from bench import parse_sizes  # noqa: E402
from runner import CommandRunner, find_gnu_time  # noqa: E402

PORT = 9817
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def scrape() -> tuple[float, int]:
    started = time.perf_counter()
    with NO_PROXY.open(f"http://127.0.0.1:{PORT}/metrics", timeout=600) as reply:
        size = len(reply.read())
    return time.perf_counter() - started, size


def scans_total() -> float:
    with NO_PROXY.open(f"http://127.0.0.1:{PORT}/metrics", timeout=600) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("pynetstat_scans_total "):
                return float(line.split()[1])
    raise LookupError("pynetstat_scans_total")


def concurrent_scrapes(count: int) -> tuple[float, float]:
    """``count`` scrapes at once: the time until the last is answered, and the scans made."""
    import threading

    before = scans_total()
    barrier = threading.Barrier(count + 1)
    threads = [threading.Thread(target=lambda: (barrier.wait(), scrape())) for _ in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, scans_total() - before - 1


def bench_size(pairs: int, repeat: int, runner: CommandRunner, per_worker: int,
               concurrent: int) -> dict:
    launcher = [sys.executable, os.path.join(REPO, "pynetstat")]
    with fleet.Fleet(pairs, per_worker, 600):
        # Every scrape waits for its scan (no stale answers): the scan's cost is what is timed.
        server = subprocess.Popen([*launcher, "--serve", f"127.0.0.1:{PORT}"],
                                  stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYNETSTAT_SCRAPE_WAIT": "600"})
        try:
            assert "serving metrics" in server.stderr.readline()
            idle = status_kib(server.pid, "VmRSS")
            scrapes, json_runs, rss = [], [], []
            size = 0
            for round_number in range(repeat):
                print(f"  {pairs} pairs: round {round_number + 1}/{repeat}", file=sys.stderr,
                      flush=True)
                seconds, size = scrape()
                scrapes.append(seconds)
                rss.append(status_kib(server.pid, "VmRSS"))
                run = runner.run([*launcher, "-ano", "--json"])
                if run.failure:
                    raise SystemExit(f"-ano --json failed: {run.failure}")
                json_runs.append(run)
            burst_s, burst_scans = concurrent_scrapes(concurrent)
            peak = status_kib(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait()
    scrape_s = statistics.median(scrapes)
    json_s = statistics.median(run.wall_s for run in json_runs)
    json_peak = max(run.peak_rss_kib or 0 for run in json_runs)
    return {"pairs": pairs, "scrape_s": scrape_s, "json_s": json_s, "ratio": scrape_s / json_s,
            "serve_peak_mib": peak / 1024, "json_peak_mib": json_peak / 1024,
            "idle_mib": idle / 1024, "rss_first_mib": rss[0] / 1024, "rss_last_mib": rss[-1] / 1024,
            "body_kib": size / 1024, "burst_s": burst_s, "burst_scans": burst_scans}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default="5000,50000",
                        help="connection pairs, comma-separated; k suffix (5k,50k: 10k and 100k sockets)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size (5)")
    parser.add_argument("--concurrent", type=int, default=50,
                        help="scrapes sent at once after the rounds (50)")
    options = parser.parse_args(argv)
    print(bytecode.precompile())
    netns.enter_private_netns()
    runner = CommandRunner(600, find_gnu_time())
    per_worker = machine.effective_pairs_per_worker(4000)
    print(f"peak RSS of -ano --json from {runner.rss_method}")
    print("| sockets | scrape (median) | -ano --json (median) | ratio | --serve peak RSS | "
          "-ano --json peak RSS | RSS after 1st / last scrape | exposition | "
          f"{options.concurrent} scrapes at once: all answered in, scans |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for pairs in options.sizes:
        r = bench_size(pairs, options.repeat, runner, per_worker, options.concurrent)
        print(f"| {2 * pairs} | {r['scrape_s']:.3f} s | {r['json_s']:.3f} s | {r['ratio']:.2f}x "
              f"| {r['serve_peak_mib']:.0f} MiB | {r['json_peak_mib']:.0f} MiB "
              f"| {r['rss_first_mib']:.0f} / {r['rss_last_mib']:.0f} MiB "
              f"| {r['body_kib']:.0f} KiB | {r['burst_s']:.2f} s, {r['burst_scans']:.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
