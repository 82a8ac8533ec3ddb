"""What ``pynetstat --live`` costs while it watches: the CPU share of a 1 s refresh, the time of a
refresh, and how soon a key answers while refreshes go on.

    sudo .venv/bin/python bench/live_cost.py [PAIRS] [SECONDS] [INTERVAL]
        # default 10000 pairs (20000 sockets), 30 s measured, 1 s interval
    sudo .venv/bin/python bench/live_cost.py --keys [PAIRS] [SECONDS] [INTERVAL]
        # default 100000 pairs (200000 sockets), 60 s of key presses, 1 s interval

In a private network namespace, ``PAIRS`` established loopback pairs (bench/fleet.py); then
``pynetstat --live -an INTERVAL`` in a tmux pane of a tmux server of its own (started here, so
it is in this namespace), a 120x40 terminal. Once the first reading is on screen (the status bar
says how many sockets) and 5 s more have passed, the process's CPU time (utime + stime of every
thread, /proc/PID/stat) is read twice, ``SECONDS`` apart: their difference over ``SECONDS`` is
the share of one core. The first reading's wall time is reported too, and from the app's pass
log (``PYNETSTAT_PASS_TIMES``) the time of each reading (collector thread) and of its edit of
the table (UI thread).

``--keys``: the app in this process, in Textual's headless pilot (``App.run_test``, 120x40), on
the same kind of fleet. After the first reading, ``down`` (then ``up`` at the bottom of the
screen's page, and so on) is pressed every 50 ms for ``SECONDS``: a key's latency is the time
from the key handed to the app, as the terminal driver hands it (not ``pilot.press``, which
then waits for the whole process to idle), to the table's cursor on its new row, counted apart for the presses made
while the collector thread was reading (its lock held: "under a refresh"). Then ``3`` (sort by
Foreign Address) and ``3`` again (the other way): the time until the table shows that order
(past SORT_AT_ONCE rows it is arranged on a thread).
The readings' times come from the pass log as above.
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


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def readings(path: str) -> None:
    """The pass log's first reading and the median of the later ones (the first two left out:
    the owner cache fills at the first)."""
    with open(path) as f:
        lines = [json.loads(line) for line in f]
    later = lines[2:]

    def median(field: str) -> float:
        return sorted(r[field] for r in later)[len(later) // 2]

    def most(field: str) -> float:
        return max(r[field] for r in later)
    first = lines[0]
    print(f"first reading {first['seconds']:.2f} s ({first['cpu']:.2f} s CPU), its table "
          f"hand-over (UI thread) {first['apply']:.4f} s ({first['apply_cpu']:.4f} s CPU)")
    print(f"later readings: {len(later)}, median {median('seconds'):.3f} s "
          f"({median('cpu'):.3f} s CPU), longest {most('seconds'):.3f} s; table hand-over "
          f"median {median('apply'):.4f} s ({median('apply_cpu'):.4f} s CPU), longest "
          f"{most('apply'):.4f} s; slots skipped {lines[-1]['skipped']}")


def quantiles(label: str, values: list[float]) -> None:
    if not values:
        print(f"{label}: none")
        return
    values = sorted(values)

    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000
    print(f"{label}: {len(values)} presses, median {at(0.5):.1f} ms, 95% {at(0.95):.1f} ms, "
          f"longest {values[-1] * 1000:.1f} ms")


def keys(pairs: int, seconds: float, interval: float) -> int:
    import asyncio
    import io

    sys.path.insert(0, os.path.join(REPO, "src"))
    from pynetstat.cli import parse_args
    from pynetstat.env import Environment
    from pynetstat.modes.live.app import LiveApp
    from pynetstat.modes.live.collector import Collector

    passes = f"/tmp/{SERVER}.passes"
    netns.enter_private_netns()
    with fleet.Fleet(pairs, 4000, 600.0) as opened:
        print(f"{pairs} pairs ready in {opened.setup_seconds:.1f} s; {load()}", flush=True)
        env = Environment(io.StringIO(), io.StringIO(),
                          environ={**os.environ, "PYNETSTAT_PASS_TIMES": passes})
        app = LiveApp(Collector(parse_args(["--live", "-an"]), env), interval)
        busy: list[float] = []
        idle: list[float] = []
        sorts: list[float] = []

        async def until(check, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while not check():
                if time.monotonic() > deadline:
                    raise SystemExit(f"not within {timeout} s")
                await asyncio.sleep(0.005)

        def press(key: str) -> None:
            """The key as the terminal driver hands it to the app. Not ``pilot.press``: that
            then waits for the process to idle (Textual's wait_for_idle compares its CPU time
            with the clock), which the collector thread's reading delays by up to 2 s."""
            from textual import events

            driver = app._driver
            assert driver is not None
            driver.send_message(events.Key(key, key if len(key) == 1 else None))

        async def scenario() -> None:
            async with app.run_test(size=(120, 40)):
                started = time.monotonic()
                await until(lambda: app.readings >= 1, 600)
                print(f"first reading in the table after {time.monotonic() - started:.2f} s: "
                      f"{len(app.rows)} sockets", flush=True)
                table = app.table
                page = table.scrollable_content_region.height - 2
                # When the cursor moved: the table's own move, timed (polling it from here
                # would keep the UI thread busy, and each netlink or /proc read of the
                # collector thread would then wait for the GIL: a reading at 200k sockets took
                # 10 s of wall time for 1.5 s of CPU so)
                moved: list[float] = []
                move = table.move_cursor

                def timed(index: int) -> None:
                    move(index)
                    moved.append(time.perf_counter())
                table.move_cursor = timed  # type: ignore[method-assign]
                step = 1
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    before = table.cursor
                    if before + step > page or before + step < 0:
                        step = -step
                    count = len(moved)
                    reading = app.collector.lock.locked()
                    t0 = time.perf_counter()
                    press("down" if step > 0 else "up")
                    await asyncio.sleep(0.05)
                    while len(moved) == count:
                        await asyncio.sleep(0.05)
                    (busy if reading else idle).append(moved[count] - t0)
                for expect_reverse in (False, True):
                    t0 = time.perf_counter()
                    press("3")
                    await until(lambda r=expect_reverse: app.table_sort == (2, r), 60)
                    sorts.append(time.perf_counter() - t0)
                app.exit()

        try:
            asyncio.run(scenario())
        finally:
            app.collector.shutdown()
        quantiles("key (down/up) while a reading ran", busy)
        quantiles("key (down/up) between readings", idle)
        print("sort by Foreign Address, then the other way: "
              + ", ".join(f"{s * 1000:.0f} ms" for s in sorts))
        readings(passes)
        print(load())
        os.unlink(passes)
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--keys"]:
        args = sys.argv[2:]
        return keys(int(args[0]) if args else 100000, float(args[1]) if len(args) > 1 else 60.0,
                    float(args[2]) if len(args) > 2 else 1.0)
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
        print(f"{pairs} pairs ready in {opened.setup_seconds:.1f} s; {load()}", flush=True)
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
            readings(passes)
            print(load())
        finally:
            tmux("kill-server")
            os.unlink(pidfile)
            if os.path.exists(passes):
                os.unlink(passes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
