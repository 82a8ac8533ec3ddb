"""Benchmark pynetstat beside ss and netstat with many established TCP connections open.

Usage (stdlib only; run with the venv's real interpreter, never the pyenv shim)::

    .venv/bin/python bench/bench.py                          # 1k and 10k pairs, 5 runs each
    .venv/bin/python bench/bench.py --sizes 1k,10k,100k --markdown
    .venv/bin/python bench/bench.py --sizes 100k --skip netstat --timeout 60
    .venv/bin/python bench/bench.py --startup                # idle start-up vs `python -c pass`
    .venv/bin/python bench/bench.py --pynetstat-cmd "ss -t"  # a stand-in for pynetstat
    make bench BENCH_ARGS="--sizes 100k --markdown"

For each size N it opens N established TCP pairs (2N sockets) on loopback, held by worker
processes (see fleet.py), checks with ``ss -tan`` that they are there, then times each command
``--repeat`` times (in rounds: every command once per round) with stdout on /dev/null: median
and min wall time, peak RSS, and the ratio to its ss counterpart. Every command has a
``--timeout``; a tool that is not installed shows "n/a". It runs in a private network
namespace (``--no-netns`` to stay in the host's; see netns.py), so that the sockets of whatever
else runs on the machine are neither counted nor timed.
pynetstat is run as ``[sys.executable, <repo>/pynetstat, args...]`` unless ``--pynetstat-cmd``.
Setting up 100k pairs needs root or a RLIMIT_NOFILE hard limit >= --pairs-per-worker + 64.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bytecode
import fleet
import machine
import netns
from report import Row, Section, format_markdown, format_text
from runner import CommandRunner, Measurement, Run, find_gnu_time

REPO = Path(__file__).resolve().parent.parent
STARTUP_TARGET_MS = 20.0


@dataclass(frozen=True)
class Case:
    label: str
    tool: str
    args: tuple[str, ...]
    baseline: str | None = None  # label of the ss case it is compared with


CASES = (
    Case("ss -tan", "ss", ("-tan",)),
    Case("pynetstat -an", "pynetstat", ("-an",), "ss -tan"),
    Case("netstat -tan", "netstat", ("-tan",), "ss -tan"),
    Case("ss -tanp", "ss", ("-tanp",)),
    Case("pynetstat -ano", "pynetstat", ("-ano",), "ss -tanp"),
    # issue 13: --info at most 2x -an and no slower than ss -tani
    Case("ss -tani", "ss", ("-tani",)),
    Case("pynetstat -an --info", "pynetstat", ("-an", "--info"), "ss -tani"),
    Case("netstat -tanp", "netstat", ("-tanp",), "ss -tanp"),
    Case("pynetstat -anb", "pynetstat", ("-anb",), "ss -tanp"),
    # Filters (issue 14), on the few sockets of the fleet's FEW_NAME worker. Arguments name the
    # fleet's values in braces ({few_port}, {few_pid}, {few_name}).
    Case("ss -tan port P", "ss", ("-tan", "( sport = :{few_port} or dport = :{few_port} )")),
    Case("pynetstat -an --port P", "pynetstat", ("-an", "--port", "{few_port}"),
         "ss -tan port P"),
    Case("pynetstat -ano --pid P", "pynetstat", ("-ano", "--pid", "{few_pid}"), "pynetstat -ano"),
    Case("pynetstat -ano --process NAME", "pynetstat", ("-ano", "--process", "{few_name}"),
         "pynetstat -ano"),
    # The net-tools face (issue 18) against net-tools itself: -tanp at least 8x faster,
    # -tan no slower.
    Case("pynetstat-netstat -tan", "pynetstat-netstat", ("-tan",), "netstat -tan"),
    Case("pynetstat-netstat -tanp", "pynetstat-netstat", ("-tanp",), "netstat -tanp"),
    # its filters push down as the Windows face's do: beside the whole listing net-tools prints
    Case("pynetstat-netstat -tan --port P", "pynetstat-netstat", ("-tan", "--port", "{few_port}"),
         "netstat -tan"),
    # issue 16: --audit reads what -anob does and more (process facts, the two views compared,
    # packet and raw sockets); its target is 2x -anob.
    Case("pynetstat -anob", "pynetstat", ("-anob",), "ss -tanp"),
    Case("pynetstat --audit", "pynetstat", ("--audit",), "pynetstat -anob"),
    # issue 17: --csv, no slower than --json (the same rows)
    Case("pynetstat -an --json", "pynetstat", ("-an", "--json"), "ss -tan"),
    Case("pynetstat -an --csv", "pynetstat", ("-an", "--csv"), "pynetstat -an --json"),
)


@dataclass(frozen=True)
class Tool:
    name: str
    argv: tuple[str, ...] = ()
    missing: str | None = None  # why it cannot run, shown instead of numbers


def find_tools(pynetstat_cmd: str | None) -> dict[str, Tool]:
    tools = {name: Tool(name, (path,)) if (path := shutil.which(name))
             else Tool(name, missing="n/a (not installed)") for name in ("ss", "netstat")}
    if pynetstat_cmd:
        tools["pynetstat"] = Tool("pynetstat", tuple(shlex.split(pynetstat_cmd)))
    elif (REPO / "pynetstat").is_file():
        tools["pynetstat"] = Tool("pynetstat", (sys.executable, str(REPO / "pynetstat")))
    else:
        tools["pynetstat"] = Tool("pynetstat", missing="n/a (no <repo>/pynetstat launcher yet)")
    face = tools["pynetstat"]
    tools["pynetstat-netstat"] = Tool("pynetstat-netstat", face.argv + ("--nettools",), face.missing)
    return tools


def measure_cases(runner: CommandRunner, tools: dict[str, Tool], skip: set[str],
                  repeat: int, values: dict[str, object] | None = None) -> tuple[Row, ...]:
    """Run every case ``repeat`` times, in rounds (each case once per round), so that a burst of
    other work on the host slows every tool alike instead of whichever ran during it. A case
    stops at its first failure. ``values`` fill the braces of the cases' arguments."""
    measured: dict[str, Measurement] = {}
    active = []
    for case in CASES:
        tool = tools[case.tool]
        if case.tool in skip or case.label in skip:
            measured[case.label] = Measurement(case.label, note="skipped")
        elif tool.missing:
            measured[case.label] = Measurement(case.label, note=tool.missing)
        else:
            active.append(case)
    runs: dict[str, list[Run]] = {case.label: [] for case in active}
    for round_number in range(1, repeat + 1):
        progress(f"  round {round_number}/{repeat}: " + ", ".join(case.label for case in active))
        for case in active:
            done = runs[case.label]
            if not (done and done[-1].failure):
                args = [arg.format(**values) if values else arg for arg in case.args]
                done.append(runner.run([*tools[case.tool].argv, *args]))
    for case in active:
        measured[case.label] = Measurement(case.label, tuple(runs[case.label]))
    return tuple(Row(measured[case.label], measured.get(case.baseline or "")) for case in CASES)


def measure_interval_mode(tool: Tool, passes: int, timeout: float) -> tuple[Row, Row]:
    """Time interval mode: ``pynetstat -ano 1`` for ``passes`` passes, read back from the
    per-pass log that ``PYNETSTAT_PASS_TIMES`` makes it write (one JSON line per pass, with the
    pass's own duration), then stopped with SIGTERM. Reports the first pass and the later ones,
    the later compared with the first (the target is 0.6x or less)."""
    label = f"pynetstat -ano 1, passes 2..{passes}"
    if tool.missing:
        missing = Measurement("pynetstat -ano 1, first pass", note=tool.missing)
        return Row(missing), Row(Measurement(label, note=tool.missing))
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "passes.jsonl")
        env = dict(os.environ, PYNETSTAT_PASS_TIMES=log)
        proc = subprocess.Popen([*tool.argv, "-ano", "1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if os.path.exists(log):
                    with open(log, encoding="utf-8") as f:
                        lines = f.read().splitlines()
                if len(lines) >= passes:
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    seconds = [json.loads(line)["seconds"] for line in lines[:passes]]
    if len(seconds) < 2:
        note = f"only {len(seconds)} pass(es) in {timeout:.0f}s"
        return Row(Measurement("pynetstat -ano 1, first pass", note=note)), Row(Measurement(label, note=note))
    first = Measurement("pynetstat -ano 1, first pass", (Run(seconds[0], None),))
    later = Measurement(label, tuple(Run(s, None) for s in seconds[1:]))
    return Row(first), Row(later, first)


def bench_size(pairs: int, options: argparse.Namespace, runner: CommandRunner,
               tools: dict[str, Tool]) -> Section:
    progress(f"setting up {pairs} pairs ({2 * pairs} sockets) ...")
    with fleet.Fleet(pairs, options.pairs_per_worker, options.setup_timeout) as opened:
        progress(f"  ready in {opened.setup_seconds:.1f}s, {opened.workers} workers")
        seen = machine.count_tcp_sockets()
        open_files = machine.open_files_on_host()
        if seen and seen[1] < 2 * pairs:
            progress(f"  warning: ss sees only {seen[1]} of our {2 * pairs} sockets established")
        rows = measure_cases(runner, tools, options.skip, options.repeat,
                             {"few_port": fleet.FEW_PORT, "few_pid": opened.few_pid,
                              "few_name": fleet.FEW_NAME})
        if options.interval_passes:
            rows += measure_interval_mode(tools["pynetstat"], options.interval_passes,
                                          options.timeout)
    facts = (
        ("pairs", f"{pairs} ({2 * pairs} sockets, {opened.workers} worker processes)"),
        ("setup", f"{opened.setup_seconds:.1f}s"),
        ("seen by ss -tan", "n/a" if seen is None
         else f"{seen[0]} TCP sockets, of which {seen[1]} established in our pairs"),
        ("runs", f"{options.repeat} per command, timeout {options.timeout:g}s"),
        ("open files on the host", f"{open_files} (what -p walks through)"),
        ("TIME_WAIT on loopback after teardown", str(machine.count_time_wait())),
    )
    return Section(f"{pairs} connection pairs", facts, rows)


def bench_startup(options: argparse.Namespace, runner: CommandRunner,
                  tools: dict[str, Tool]) -> Section:
    """Idle start-up: ``pynetstat -an`` against the bare interpreter, runs interleaved."""
    pynetstat = tools["pynetstat"]
    if pynetstat.missing:
        raise SystemExit(f"bench: pynetstat {pynetstat.missing}; see --pynetstat-cmd")
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "pynetstat -an": [*pynetstat.argv, "-an"]}
    runs: dict[str, list[Run]] = {label: [] for label in commands}
    progress(f"start-up: {options.startup_runs} runs each ...")
    for _ in range(options.startup_runs):
        for label, argv in commands.items():
            runs[label].append(runner.run(argv))
    interpreter, tool = (Measurement(label, tuple(runs[label])) for label in commands)
    seen = machine.count_tcp_sockets()
    facts = [("runs", f"{options.startup_runs} each, interleaved"),
             ("seen by ss -tan", "n/a" if seen is None else f"{seen[0]} TCP sockets")]
    if not (interpreter.failure or tool.failure):
        extra_ms = (tool.median_s - interpreter.median_s) * 1000
        verdict = "ok" if extra_ms <= STARTUP_TARGET_MS else "over target"
        facts.append(("pynetstat -an over python -c pass",
                      f"{extra_ms:+.1f} ms median (target <= {STARTUP_TARGET_MS:g} ms: {verdict})"))
    return Section("idle start-up", tuple(facts), (Row(interpreter), Row(tool, interpreter)))


def choose_netns(wanted: bool) -> str:
    """Enter a private network namespace if ``wanted``; say which namespace the bench runs in."""
    if not wanted:
        return "host (other sockets on this machine are counted too)"
    try:
        netns.enter_private_netns()
    except OSError as exc:
        progress(f"warning: staying in the host network namespace: {exc}")
        return f"host ({exc.strerror}; other sockets on this machine are counted too)"
    return "private (only the bench's sockets; -p still scans every process)"


def precompile(options: argparse.Namespace) -> str:
    """Write pynetstat's bytecode before it is timed (bench/bytecode.py says why)."""
    if options.pynetstat_cmd:
        return "left as it is (--pynetstat-cmd)"
    return bytecode.precompile()


def machine_facts(runner: CommandRunner, tools: dict[str, Tool], namespace: str,
                  bytecode: str) -> Section:
    pynetstat = tools["pynetstat"]
    facts = (
        ("kernel", f"Linux {platform.release()} {platform.machine()}"),
        ("cpus / memory", f"{os.cpu_count()} / {machine.memory_gib():.0f} GiB"),
        ("python", f"{platform.python_version()} ({os.path.realpath(sys.executable)})"),
        ("pynetstat", pynetstat.missing or shlex.join(pynetstat.argv)),
        ("pynetstat bytecode", bytecode),
        ("tools", ", ".join(machine.tool_version(name) for name in ("ss", "netstat")
                            if not tools[name].missing)),
        ("peak RSS from", runner.rss_method),
        ("network namespace", namespace),
    )
    return Section("machine", facts, ())


def parse_sizes(text: str) -> list[int]:
    """``"1k,10000,0.1M"`` -> [1000, 10000, 100000]."""
    scale = {"k": 1_000, "m": 1_000_000}
    sizes = []
    for item in filter(None, (part.strip().lower() for part in text.split(","))):
        factor = scale.get(item[-1], 1)
        sizes.append(round(float(item[:-1] if factor > 1 else item) * factor))
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default="1000,10000",
                        help="connection pairs per round, comma-separated; k/M suffixes (1000,10000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (5)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run (120)")
    parser.add_argument("--setup-timeout", type=float, default=300.0,
                        help="seconds to open the connections of one size (300)")
    parser.add_argument("--skip", default="", type=lambda text: set(filter(None, text.split(","))),
                        help="tools or commands to leave out, e.g. netstat or 'netstat -tanp'")
    parser.add_argument("--markdown", action="store_true", help="also print markdown tables")
    parser.add_argument("--startup", action="store_true",
                        help="only measure idle start-up against `python -c pass`")
    parser.add_argument("--startup-runs", type=int, default=30, help="runs each (30)")
    parser.add_argument("--pynetstat-cmd", help="command to run instead of <repo>/pynetstat")
    parser.add_argument("--pairs-per-worker", type=int, default=4000,
                        help="pairs per accepting/connecting worker pair (4000)")
    parser.add_argument("--netns", action=argparse.BooleanOptionalAction, default=True,
                        help="run in a private network namespace, so that only the bench's "
                             "sockets are seen (default: yes; needs root)")
    parser.add_argument("--interval-passes", type=int, default=0,
                        help="also time interval mode (-ano 1) over this many passes")
    return parser.parse_args(argv)


def side_parser(description: str) -> argparse.ArgumentParser:
    """The options every side benchmark (unix.py, peers.py) takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=parse_sizes, default="10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--pairs-per-worker", type=int, default=4000)
    parser.add_argument("--markdown", action="store_true")
    return parser


def side_start(options: argparse.Namespace) -> tuple[CommandRunner, dict[str, Tool], list[Section]]:
    """A side benchmark's start, as ``run`` does: exit cleanly on SIGTERM and SIGHUP, the
    runner, the tools, a private network namespace and the machine's facts (printed)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    runner = CommandRunner(options.timeout, find_gnu_time())
    tools = find_tools(None)
    options.pynetstat_cmd = None
    sections = [machine_facts(runner, tools, choose_netns(True), precompile(options))]
    print(format_text(sections[0]), flush=True)
    return runner, tools, sections


def side_end(options: argparse.Namespace, sections: list[Section]) -> int:
    """A side benchmark's end: the markdown tables when asked for; the exit status."""
    if options.markdown:
        print("\n" + "\n\n".join(format_markdown(section) for section in sections))
    return 0


def patched_pynetstat(patch: str) -> list[str]:
    """The command that runs this checkout's pynetstat with ``patch`` (Python lines) run first,
    in the child only: how a bench times a variant the product has no switch for."""
    code = (f"import sys; sys.path.insert(0, {str(REPO / 'src')!r}); sys.argv[0] = 'pynetstat'\n"
            f"{patch}from pynetstat.cli import entry\nentry()\n")
    return [sys.executable, "-c", code]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(options: argparse.Namespace) -> int:
    runner = CommandRunner(options.timeout, find_gnu_time())
    tools = find_tools(options.pynetstat_cmd)
    sections = [machine_facts(runner, tools, choose_netns(options.netns), precompile(options))]
    print(format_text(sections[0]), flush=True)
    if options.startup:
        sections.append(bench_startup(options, runner, tools))
        print(format_text(sections[-1]), flush=True)
    else:
        options.pairs_per_worker = machine.effective_pairs_per_worker(options.pairs_per_worker)
        problems, warnings = machine.preflight(max(options.sizes, default=0),
                                               options.pairs_per_worker)
        for warning in warnings:
            progress(f"warning: {warning}")
        if problems:
            print("bench: cannot set up the connections:\n  " + "\n  ".join(problems))
            return 1
        for pairs in options.sizes:
            try:
                sections.append(bench_size(pairs, options, runner, tools))
            except fleet.FleetError as exc:
                print(f"bench: setting up {pairs} pairs failed: {exc}")
                return 1
            print(format_text(sections[-1]), flush=True)
    if options.markdown:
        print("\n" + "\n\n".join(format_markdown(section) for section in sections))
    return 0


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # SIGTERM/SIGHUP unwind like Ctrl-C, so that every `with Fleet` closes its workers.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    started = time.monotonic()
    try:
        return run(options)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        progress(f"bench: {time.monotonic() - started:.0f}s in all")


if __name__ == "__main__":
    sys.exit(main())
