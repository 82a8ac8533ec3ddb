"""What the peer join of TCP and UDP (model/peers.py) costs, beside the same run without it.

Usage (stdlib only; the venv's interpreter, as root for the private network namespace)::

    nice .venv/bin/python bench/peers.py --sizes 100k --repeat 3 --markdown

For each size N it opens N established TCP pairs on loopback (bench/fleet.py: every connection's
two ends held by two worker processes, so every row finds its other end: the join's worst case),
then times, in rounds, each command with stdout on /dev/null (bench.py's runner: median wall
time, CPU time, peak RSS):

* ``pynetstat -ano``: the table, which does not show the other end, so it does not join;
* the same with the join forced on (``Options.shows_peers`` patched to ``-o``/``-b`` alone, in
  the child only): what the join adds to ``-ano`` (issue 12's target: at most 10% at 200k);
* ``pynetstat -ano --json``, which joins, beside the same with the join patched off.

The patched runs are ``python -c`` with the patch, then ``cli.entry()``: the product has no switch.
The owner walk of ``-o`` reads every process's fd table on the host, so on a host where others
hold many sockets it dominates every run here; the join alone is timed too, in a child process
(``JOIN_ALONE``): the dump of the bench's namespace read once, then ``join_peers`` and the
other ends' owners by position (``Peers.columns``, as the collector does), CPU time, best of
``--repeat``.
"""

from __future__ import annotations

import sys

import bench
import fleet
from report import Row, Section, format_text
from runner import CommandRunner, Measurement, Run

# shows_peers forced: on with -o/-b whatever the format, or off
PATCHED = ("from pynetstat.options import Options\n"
           "Options.shows_peers = property(lambda self: {value})\n")
CASES = (
    # label, join (None: as shipped; True/False: patched), arguments, the label it is compared to
    ("pynetstat -ano", None, ("-ano",), None),
    ("pynetstat -ano, join forced", True, ("-ano",), "pynetstat -ano"),
    ("pynetstat -ano --json, join off", False, ("-ano", "--json"), None),
    ("pynetstat -ano --json", None, ("-ano", "--json"), "pynetstat -ano --json, join off"),
)


JOIN_ALONE = """
import sys, time
sys.path.insert(0, {src!r})
from pynetstat.kinds import selection
from pynetstat.linux.netlink import LiveNetlink
from pynetstat.linux.procfs import ProcFS
from pynetstat.linux.sockets import SourceLog, iter_batches
from pynetstat.model.peers import join_peers
dump = list(iter_batches(selection(None, True), LiveNetlink(), ProcFS(), SourceLog(), joint=True))
n = sum(map(len, dump))
owners = [(("an owner",),) * len(b) for b in dump]  # as the owner join leaves them: shared
best = None
for _ in range({repeat}):
    started = time.process_time()
    found = join_peers(dump, directions=False)
    columns = found.columns(owners, ())
    for b in dump:
        b.peer_owners = columns.get(id(b))
    spent = time.process_time() - started
    best = spent if best is None else min(best, spent)
found = sum(1 for b in dump if b.peer is not None for p in b.peer if p)
print(n, found, best)
"""


def join_alone(repeat: int) -> tuple[int, int, float]:
    """(sockets dumped, of which with an other end found, best CPU seconds of the join)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", JOIN_ALONE.format(src=str(bench.REPO / "src"),
                                                                  repeat=repeat)],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1]), float(out[2])


def command(tools: dict, join: bool | None, args: tuple[str, ...]) -> list[str]:
    if join is None:
        return [*tools["pynetstat"].argv, *args]
    patch = PATCHED.format(value="self.wants_owners" if join else "False")
    return [*bench.patched_pynetstat(patch), *args]


def measure(runner: CommandRunner, tools: dict, repeat: int) -> tuple[Row, ...]:
    runs: dict[str, list[Run]] = {label: [] for label, *_ in CASES}
    for number in range(1, repeat + 1):
        bench.progress(f"  round {number}/{repeat}")
        for label, join, args, _base in CASES:
            runs[label].append(runner.run(command(tools, join, args)))
    measured = {label: Measurement(label, tuple(runs[label])) for label, *_ in CASES}
    return tuple(Row(measured[label], measured.get(base or "")) for label, _j, _a, base in CASES)


def main(argv: list[str] | None = None) -> int:
    parser = bench.side_parser(__doc__.splitlines()[0])
    parser.add_argument("--setup-timeout", type=float, default=600.0)
    options = parser.parse_args(argv)
    runner, tools, sections = bench.side_start(options)
    for pairs in options.sizes:
        bench.progress(f"setting up {pairs} pairs ({2 * pairs} sockets) ...")
        with fleet.Fleet(pairs, options.pairs_per_worker, options.setup_timeout) as opened:
            rows = measure(runner, tools, options.repeat)
            dumped, found, join_s = join_alone(options.repeat)
        facts = (("pairs", f"{pairs} ({2 * pairs} sockets, {opened.workers} worker processes)"),
                 ("the join alone", f"{join_s:.3f}s CPU for {dumped} sockets dumped, {found} "
                                    "with their other end found (best of the rounds)"),
                 ("setup", f"{opened.setup_seconds:.1f}s"),
                 ("runs", f"{options.repeat} per command, in rounds"))
        sections.append(Section(f"{pairs} connection pairs: the peer join", facts, rows))
        print(format_text(sections[-1]), flush=True)
    return bench.side_end(options, sections)


if __name__ == "__main__":
    sys.exit(main())
