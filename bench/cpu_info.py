"""CPU time (user + sys, from wait4) of ``ss -tan``, ``pynetstat -an``, ``ss -tani`` and
``pynetstat -an --info`` over the bench's fleet of loopback pairs, in a private network
namespace, commands alternating in rounds (issue 13's targets: ``--info`` at most 2x ``-an``
and no slower than ``ss -tani``). On a shared host wall time follows the load; the CPU time a
command used moves less. ``--profile FILE``: also one ``pynetstat -an --info`` under cProfile,
its stats written to FILE (read them with ``python -m pstats FILE``). ``--compare DIR``: also
``-an`` and ``-an --info`` of the checkout in DIR (another commit), in the same rounds.
``--floor``: also ``-an --info`` with its lines read but not written (the tcp_info columns
read from the dump and the line's template made, then an empty line under every row, patched
in the child only): what the dump and its columns cost before any text is formatted, so what
is left for the text within the 2x of ``-an``.

    .venv/bin/python bench/cpu_info.py --pairs 9000 --rounds 9
    .venv/bin/python bench/cpu_info.py --pairs 20000 --rounds 0 --profile /tmp/info.prof
    .venv/bin/python bench/cpu_info.py --pairs 100000 --rounds 5 --floor
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import bytecode
import fleet
import netns

REPO = Path(__file__).resolve().parent.parent
PYNETSTAT = [sys.executable, str(REPO / "pynetstat")]
# ``-an --info`` with every line's columns read and template made, and nothing written under
# the rows (``--floor``)
UNWRITTEN = """
import sys
sys.path.insert(0, {src!r})
sys.argv = ["pynetstat", "-an", "--info"]
import pynetstat.render.extensions as extensions
made_by = extensions.info_cells
def read_only(exts, numeric):
    made = made_by(exts, numeric)
    if made is None:
        return None
    for column in made[1]:
        if not isinstance(column, (list, tuple)):
            list(column)  # a lazy column (a memo's map) made, as the text would
    return "", []
extensions.info_cells = read_only
from pynetstat.cli import entry
entry()
"""
COMMANDS = {"ss -tan": ["ss", "-tan"], "pynetstat -an": [*PYNETSTAT, "-an"],
            "ss -tani": ["ss", "-tani"], "pynetstat -an --info": [*PYNETSTAT, "-an", "--info"]}


def run_once(argv: list[str]) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, system CPU seconds) of one run, stdout to /dev/null."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.execv(argv[0], argv)
    _, _status, usage = os.wait4(pid, 0)
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - started, usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--compare", metavar="DIR")
    parser.add_argument("--floor", action="store_true")
    options = parser.parse_args()
    print(bytecode.precompile())
    if options.compare:
        print(bytecode.precompile(options.compare))
    commands = {name: [shutil.which(argv[0]) or argv[0], *argv[1:]]
                for name, argv in COMMANDS.items()}
    if options.compare:
        other = [sys.executable, str(Path(options.compare) / "pynetstat")]
        commands["DIR -an"] = [*other, "-an"]
        commands["DIR -an --info"] = [*other, "-an", "--info"]
    if options.floor:
        commands["-an --info, lines unwritten"] = [
            sys.executable, "-c", UNWRITTEN.format(src=str(REPO / "src"))]
    netns.enter_private_netns()
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    system: dict[str, list[float]] = {name: [] for name in commands}
    with fleet.Fleet(options.pairs, 4000, 300):
        print(f"{options.pairs} pairs; load average {os.getloadavg()[0]:.2f}")
        if options.profile:
            run_once([sys.executable, "-m", "cProfile", "-o", options.profile, *PYNETSTAT[1:],
                      "-an", "--info"])
        for _ in range(options.rounds):
            for name, argv in commands.items():
                used, took, kernel = run_once(argv)
                cpu[name].append(used)
                wall[name].append(took)
                system[name].append(kernel)
        print(f"load average after {os.getloadavg()[0]:.2f}")
    if not options.rounds:
        return
    for name in commands:
        c, w, k = sorted(cpu[name]), sorted(wall[name]), sorted(system[name])
        print(f"{name:22} cpu median {c[len(c) // 2]:.3f} s, min {c[0]:.3f} (system median "
              f"{k[len(k) // 2]:.3f}); wall median {w[len(w) // 2]:.3f} s, min {w[0]:.3f}")
    info, plain, ss = (sorted(cpu[n])[len(cpu[n]) // 2] for n in
                       ("pynetstat -an --info", "pynetstat -an", "ss -tani"))
    print(f"--info cpu: {info / plain:.2f}x -an, {info / ss:.2f}x ss -tani")
    if options.floor:
        floor = sorted(cpu["-an --info, lines unwritten"])[len(cpu["-an --info, lines unwritten"]) // 2]
        print(f"--info with its lines unwritten: {floor / plain:.2f}x -an; the text's share of "
              f"--info {info - floor:.3f} s, room for it within 2x -an {2 * plain - floor:.3f} s")
    if options.compare:
        info, plain = (sorted(cpu[n])[len(cpu[n]) // 2] for n in ("DIR -an --info", "DIR -an"))
        print(f"DIR's --info cpu: {info / plain:.2f}x its -an, {info / ss:.2f}x ss -tani")


if __name__ == "__main__":
    main()
