"""CPU time (user + sys, from wait4) of ``pynetstat -an``, ``-an --json`` and ``-an --csv`` over
the bench's fleet of loopback pairs, in a private network namespace, commands alternating in
rounds. On a shared host wall time follows the load; the CPU time a command used moves less.

    .venv/bin/python bench/cpu_csv_json.py --pairs 100000 --rounds 7
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import bytecode
import fleet
import netns

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {"-an": ["-an"], "-an --json": ["-an", "--json"], "-an --csv": ["-an", "--csv"]}


def run_once(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run, stdout to /dev/null."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.execv(sys.executable, [sys.executable, str(REPO / "pynetstat"), *argv])
    _, _status, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    print(bytecode.precompile())
    netns.enter_private_netns()
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    wall: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with fleet.Fleet(options.pairs, 4000, 300):
        for _ in range(options.rounds):
            for name, argv in COMMANDS.items():
                used, took = run_once(argv)
                cpu[name].append(used)
                wall[name].append(took)
    for name in COMMANDS:
        c, w = sorted(cpu[name]), sorted(wall[name])
        print(f"{name:12} cpu median {c[len(c) // 2]:.3f} s, min {c[0]:.3f}; "
              f"wall median {w[len(w) // 2]:.3f} s, min {w[0]:.3f}")


if __name__ == "__main__":
    main()
