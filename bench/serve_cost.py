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

    sudo nice -n 10 .venv/bin/python bench/serve_cost.py --sizes 100k --soak 1000 --rss-log FILE

``--soak N`` instead measures the exporter alone over a long life: at each size, ``--concurrent``
scrapes at once (every answer checked: a whole exposition, fresh or stale), then N scrapes in a
row, the exporter's RSS, CPU seconds and scans written to ``--rss-log`` every 10 scrapes (flushed,
so a run stopped early leaves its curve), then ``--concurrent`` at once again.
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


def scrape_body() -> str:
    with NO_PROXY.open(f"http://127.0.0.1:{PORT}/metrics", timeout=600) as reply:
        return reply.read().decode()


def sample(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise LookupError(name)


def scans_total() -> float:
    return sample(scrape_body(), "pynetstat_scans_total")


def concurrent_scrapes(count: int) -> tuple[float, float, int, int]:
    """``count`` scrapes at once: the time until the last is answered, the scans made, the
    answers that were whole expositions (ending with the scan's duration, the last family), and
    how many of them were stale."""
    import threading

    before = scans_total()
    barrier = threading.Barrier(count + 1)
    bodies: list[str] = []

    def one() -> None:
        barrier.wait()
        bodies.append(scrape_body())
    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    whole = [b for b in bodies if "\npynetstat_scrape_duration_seconds " in b]
    stale = sum(1 for b in whole if sample(b, "pynetstat_stale") == 1)
    return took, scans_total() - before - 1, len(whole), stale


def listen_overflows() -> int:
    """TcpExt ListenOverflows of this (the bench's private) namespace: connections dropped
    because the accept queue was full."""
    with open("/proc/self/net/netstat", encoding="ascii") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split()))["ListenOverflows"])
    raise LookupError("TcpExt ListenOverflows")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


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
            burst_s, burst_scans, _whole, _stale = concurrent_scrapes(concurrent)
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


def soak(pairs: int, scrapes: int, concurrent: int, per_worker: int, log_path: str) -> None:
    """One exporter at ``pairs`` pairs: a burst, ``scrapes`` in a row (RSS every 10), a burst."""
    launcher = [sys.executable, os.path.join(REPO, "pynetstat")]
    with fleet.Fleet(pairs, per_worker, 1200) as held, open(log_path, "a") as log:
        server = subprocess.Popen([*launcher, "--serve", f"127.0.0.1:{PORT}"],
                                  stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYNETSTAT_SCRAPE_WAIT": "600"})
        try:
            assert "serving metrics" in server.stderr.readline()
            print(f"# {2 * pairs} sockets (fleet set up in {held.setup_seconds:.0f} s), exporter "
                  f"pid {server.pid}, idle RSS {status_kib(server.pid, 'VmRSS')} KiB",
                  file=log, flush=True)

            def burst(when: str) -> None:
                overflows = listen_overflows()
                took, scans, whole, stale = concurrent_scrapes(concurrent)
                print(f"# {concurrent} scrapes at once ({when}): {whole} whole answers "
                      f"({stale} stale) in {took:.1f} s, {scans:.0f} scans, "
                      f"{listen_overflows() - overflows} SYNs dropped (TcpExt ListenOverflows); "
                      f"RSS {status_kib(server.pid, 'VmRSS')} KiB", file=log, flush=True)
            burst("first")
            print("scrapes\twall_s\trss_kib\thwm_kib\tcpu_s\tscans\tlast_scrape_s\tbody_kib",
                  file=log, flush=True)
            started = time.monotonic()
            for n in range(1, scrapes + 1):
                before = time.perf_counter()
                body = scrape_body()
                seconds = time.perf_counter() - before
                if n % 10 == 0 or n == 1:
                    print(f"{n}\t{time.monotonic() - started:.0f}"
                          f"\t{status_kib(server.pid, 'VmRSS')}"
                          f"\t{status_kib(server.pid, 'VmHWM')}\t{cpu_seconds(server.pid):.1f}"
                          f"\t{sample(body, 'pynetstat_scans_total'):.0f}\t{seconds:.2f}"
                          f"\t{len(body) / 1024:.0f}", file=log, flush=True)
            burst("last")
        finally:
            server.terminate()
            server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default="5000,50000",
                        help="connection pairs, comma-separated; k suffix (5k,50k: 10k and 100k sockets)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size (5)")
    parser.add_argument("--concurrent", type=int, default=50,
                        help="scrapes sent at once after the rounds (50)")
    parser.add_argument("--soak", type=int, default=0, metavar="N",
                        help="instead: N scrapes in a row per size, with bursts before and after")
    parser.add_argument("--rss-log", default="serve_soak.tsv",
                        help="--soak's log: RSS, CPU and scans every 10 scrapes")
    options = parser.parse_args(argv)
    print(bytecode.precompile())
    netns.enter_private_netns()
    per_worker = machine.effective_pairs_per_worker(4000)
    if options.soak:
        for pairs in options.sizes:
            soak(pairs, options.soak, options.concurrent, per_worker, options.rss_log)
        return 0
    runner = CommandRunner(600, find_gnu_time())
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
