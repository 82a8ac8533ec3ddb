"""Benchmark ``pynetstat -p unix`` beside ``ss -x`` with many connected UNIX socket pairs.

Usage (stdlib only; the venv's interpreter, as root for the private network namespace)::

    .venv/bin/python bench/unix.py --sizes 10k,100k --repeat 3 --markdown

For each size N it opens N connected UNIX stream pairs (2N sockets) held by worker processes:
each chunk of ``--pairs-per-worker`` pairs has a listener on an abstract name of its own, a
worker that accepts and a worker that connects, so every connection's two ends are held by two
processes (what the peer join of ``-o`` looks up). It checks with ``ss -xa`` that they are there,
then times each command ``--repeat`` times in rounds, stdout on /dev/null, as bench.py does
(median wall time, peak RSS, the ratio to the ss command it is compared with). UNIX sockets are
per network namespace, so in the private one (the default) only the bench's are listed; the
owner scans of ``-o`` and ``-p`` still walk every process of the host.
Beside them, ``-p unix -a`` with its peer join patched off (``NO_PEER_NAMES``): every peer shown
by its inode, as ss shows it, so that what the join of the peer's name costs is measured.
Targets (issue 12): ``-p unix -a`` no slower than ``ss -xa``; ``-p unix -ao`` at least 8x faster
than ``ss -xap``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import bench
from report import Row, Section, format_text
from runner import CommandRunner, Measurement, Run

# The table without its peer join, as ss -xa shows a peer (by its inode): the dump's dict of
# bound sockets kept empty, in the child only (the product has no switch), so that every
# connected socket's Foreign Address is its peer's inode. What the join costs, beside ss.
NO_PEER_NAMES = "pynetstat, peer names off"
PATCHED = ("from pynetstat.linux import unixdiag\n"
           "class Empty(dict):\n"
           "    def update(self, *args): pass\n"
           "    def __setitem__(self, key, value): pass\n"
           "made = unixdiag.UnixListing.__init__\n"
           "def init(self, *args):\n"
           "    made(self, *args)\n"
           "    self.named = Empty()\n"
           "unixdiag.UnixListing.__init__ = init\n")
CASES = (
    ("ss -xa", "ss", ("-xa",), None),
    ("pynetstat -p unix -a", "pynetstat", ("-p", "unix", "-a"), "ss -xa"),
    ("pynetstat -p unix -a, peer names off", NO_PEER_NAMES, ("-p", "unix", "-a"), "ss -xa"),
    ("pynetstat -p unix -an --json", "pynetstat", ("-p", "unix", "-an", "--json"), "ss -xa"),
    ("ss -xap", "ss", ("-xap",), None),
    ("pynetstat -p unix -ao", "pynetstat", ("-p", "unix", "-ao"), "ss -xap"),
)
PR_SET_PDEATHSIG = 1
READY = b"r"


def _worker(role: str, name: bytes, pairs: int, report: int, hold: int) -> None:
    """In a forked child: accept or connect ``pairs`` connections on ``name``, say so on
    ``report``, then hold them until ``hold`` reads EOF (the bench is done or dead)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, pairs + 64)), hard))
    held = []
    if role == "server":
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(name)
        listener.listen(4096)
        os.write(report, READY)
        held = [listener.accept()[0] for _ in range(pairs)]
    else:
        for _ in range(pairs):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(name)
            held.append(sock)
    os.write(report, READY)
    os.read(hold, 1)
    os._exit(0)


class UnixFleet:
    """``pairs`` connected UNIX pairs, in chunks of ``per_worker``, two processes a chunk."""

    def __init__(self, pairs: int, per_worker: int):
        self.pids: list[int] = []
        self.hold_r, self.hold_w = os.pipe()
        started = time.monotonic()
        for index, start in enumerate(range(0, pairs, per_worker)):
            count = min(per_worker, pairs - start)
            name = b"\0pnst-bench-unix-%d" % index
            server = self._fork("server", name, count)
            self._wait(server, f"server {index} listening")
            client = self._fork("client", name, count)
            self._wait(client, f"client {index} connected")
            self._wait(server, f"server {index} accepted")
            os.close(server)
            os.close(client)
        self.setup_seconds = time.monotonic() - started

    def _fork(self, role: str, name: bytes, count: int) -> int:
        """A worker; the read end of its report pipe."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.close(self.hold_w)
            _worker(role, name, count, w, self.hold_r)
        os.close(w)
        self.pids.append(pid)
        return r

    @staticmethod
    def _wait(report: int, what: str) -> None:
        if os.read(report, 1) != READY:
            raise RuntimeError(f"a worker failed before: {what}")

    def close(self) -> None:
        os.close(self.hold_w)
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)


def count_ss_unix() -> int:
    out = subprocess.run(["ss", "-xaH"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.startswith("u_"))


def command(tools: dict, tool: str) -> list[str]:
    if tool == NO_PEER_NAMES:
        return bench.patched_pynetstat(PATCHED)
    return list(tools[tool].argv)


def measure(runner: CommandRunner, tools: dict, repeat: int, skip: set) -> tuple[Row, ...]:
    runs: dict[str, list[Run]] = {label: [] for label, *_ in CASES}
    for number in range(1, repeat + 1):
        bench.progress(f"  round {number}/{repeat}")
        for label, tool, args, _base in CASES:
            if label not in skip:
                runs[label].append(runner.run([*command(tools, tool), *args]))
    measured = {label: Measurement(label, tuple(runs[label]), "skipped" if label in skip else None)
                for label, *_ in CASES}
    return tuple(Row(measured[label], measured.get(base or "")) for label, _t, _a, base in CASES)


def main(argv: list[str] | None = None) -> int:
    parser = bench.side_parser(__doc__.splitlines()[0])
    parser.add_argument("--skip", default="", type=lambda text: set(filter(None, text.split(","))),
                        help="commands to leave out, e.g. 'ss -xap'")
    options = parser.parse_args(argv)
    runner, tools, sections = bench.side_start(options)
    for pairs in options.sizes:
        bench.progress(f"setting up {pairs} UNIX pairs ({2 * pairs} sockets) ...")
        fleet = UnixFleet(pairs, options.pairs_per_worker)
        try:
            seen = count_ss_unix()
            rows = measure(runner, tools, options.repeat, options.skip)
        finally:
            fleet.close()
        facts = (("pairs", f"{pairs} ({2 * pairs} sockets + listeners, {len(fleet.pids)} "
                           "worker processes)"),
                 ("setup", f"{fleet.setup_seconds:.1f}s"), ("seen by ss -xa", str(seen)),
                 ("runs", f"{options.repeat} per command"))
        sections.append(Section(f"{pairs} UNIX pairs", facts, rows))
        print(format_text(sections[-1]), flush=True)
    return bench.side_end(options, sections)


if __name__ == "__main__":
    sys.exit(main())
