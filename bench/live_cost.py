"""What ``pynetstat --live`` costs while it watches: the CPU share of a 1 s refresh.

    sudo .venv/bin/python bench/live_cost.py [PAIRS] [SECONDS] [INTERVAL]
        # default 10000 pairs (20000 sockets), 30 s measured, 1 s interval

In a private network namespace, ``PAIRS`` established loopback pairs (bench/fleet.py); then
``pynetstat --live -an INTERVAL`` in a tmux pane of a tmux server of its own (started here, so
it is in this namespace), a 120x40 terminal. Once the first reading is on screen (the status bar
says how many sockets) and 5 s more have passed, the process's CPU time (utime + stime of every
thread, /proc/PID/stat) is read twice, ``SECONDS`` apart: their difference over ``SECONDS`` is
the share of one core. The first reading's wall time is reported too, and from the app's pass
log (``PYNETSTAT_PASS_TIMES``) the time of each reading (collector thread) and of its edit of
the table (UI thread).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bytecode  # noqa: E402
import fleet  # noqa: E402
import netns  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
SERVER = f"live-bench-{os.getpid()}"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SERVER, *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def main() -> int:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    interval = sys.argv[3] if len(sys.argv) > 3 else "1"
    print(bytecode.precompile())
    netns.enter_private_netns()
    pidfile = f"/tmp/{SERVER}.pid"
    passes = f"/tmp/{SERVER}.passes"
    live = " ".join(shlex.quote(a) for a in (sys.executable, os.path.join(REPO, "pynetstat"),
                                             "--live", "-an", interval))
    with fleet.Fleet(pairs, 4000, 300.0) as opened:
        print(f"{pairs} pairs ready in {opened.setup_seconds:.1f} s", flush=True)
        started = time.monotonic()
        tmux("new-session", "-d", "-s", "bench", "-x", "120", "-y", "40",
             f"sh -c {shlex.quote(f'echo $$ > {pidfile}; export PYNETSTAT_PASS_TIMES={passes}; exec {live}')}")
        try:
            while True:
                screen = tmux("capture-pane", "-p", "-t", "bench")
                status = [line for line in screen.splitlines() if " sockets | every " in line]
                if status and not status[0].startswith("0 sockets"):
                    break
                if time.monotonic() - started > 300:
                    raise SystemExit("no reading within 300 s:\n" + screen)
                time.sleep(0.1)
            first = time.monotonic() - started
            print(f"first reading on screen after {first:.2f} s: {status[0].split(' | ')[0]}")
            with open(pidfile) as f:
                pid = int(f.read())
            time.sleep(5)
            before, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            after, t1 = cpu_seconds(pid), time.monotonic()
            print(f"CPU over {t1 - t0:.1f} s at a {interval} s interval: {after - before:.2f} s "
                  f"= {(after - before) / (t1 - t0):.1%} of one core")
            with open(passes) as f:
                lines = [json.loads(line) for line in f]
            later = lines[2:]

            def median(field: str) -> float:
                return sorted(r[field] for r in later)[len(later) // 2]
            first = lines[0]
            print(f"first reading {first['seconds']:.2f} s ({first['cpu']:.2f} s CPU), its table "
                  f"edit (UI thread) {first['apply']:.2f} s ({first['apply_cpu']:.2f} s CPU)")
            print(f"later readings: {len(later)}, median {median('seconds'):.3f} s "
                  f"({median('cpu'):.3f} s CPU), table edit median {median('apply'):.4f} s "
                  f"({median('apply_cpu'):.4f} s CPU); slots skipped {lines[-1]['skipped']}")
        finally:
            tmux("kill-server")
            os.unlink(pidfile)
            if os.path.exists(passes):
                os.unlink(passes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
