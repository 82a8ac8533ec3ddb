"""Interval mode in-process, on a fake clock given through the Environment: the schedule keeps to
the interval without drift and skips (never piles up) after a pass that overran; --changes of
-s, -e and -r over a /proc tree this test edits between passes (a counter that wraps, an interface
that resets, comes and goes, a route added); JSON Lines with time stamps."""

from __future__ import annotations

import io
import json
import os
import shutil
import time

import pytest

from pynetstat.cli import main
from pynetstat.env import Environment
from pynetstat.errors import Exit
from pynetstat.model.changes import counter_changes

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "linux", "stats-host", "proc")
EPOCH = 1_700_000_000.0  # the fake wall clock's start


class FakeClock:
    """Monotonic and wall time that move only when a pass "works" (its stdout flush, one per
    pass) or sleeps. ``oversleep`` is added to every sleep, as a loaded machine would."""

    def __init__(self, costs, passes: int, oversleep: float = 0.0, between=None):
        self.now = 100.0
        self.costs = costs
        self.passes = passes
        self.oversleep = oversleep
        self.between = between  # called after each sleep with the number of passes so far
        self.starts: list[float] = []
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep
        if self.between is not None:
            self.between(len(self.starts))

    def flushed(self) -> None:
        self.starts.append(self.now)
        self.now += self.costs(len(self.starts))
        if len(self.starts) == self.passes:
            raise KeyboardInterrupt  # Ctrl+C during a write


class Terminal(io.StringIO):
    """stdout whose flush takes the time the clock says the pass takes."""

    def __init__(self, clock: FakeClock):
        super().__init__()
        self.clock = clock

    def flush(self) -> None:
        self.clock.flushed()


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    shutil.copytree(FIXTURE, root)
    return root


def run(argv, clock, proc_root, **environ) -> tuple[int, str, str]:
    out, err = Terminal(clock), io.StringIO()
    environ.setdefault("PYNETSTAT_NETLINK_REPLAY", "/nonexistent-recording")  # /proc only
    env = Environment(out, err, environ=environ, proc_root=str(proc_root),
                      monotonic=clock.monotonic, sleep=clock.sleep, wall_clock=clock.wall,
                      stdout_isatty=environ.pop("_tty", False))
    status = main(argv, env)
    return status, out.getvalue(), err.getvalue()


def test_steady_passes_start_one_interval_apart(proc):
    clock = FakeClock(lambda n: 0.25, passes=200)
    status, out, err = run(["-s", "1"], clock, proc)
    assert (status, err) == (Exit.INTERRUPTED, "")
    assert [round(s - clock.starts[0], 9) for s in clock.starts] == list(range(200))
    assert clock.sleeps == [0.75] * 199
    assert out.count("TCP Statistics for IPv4 and IPv6") == 200  # every display is whole


def test_oversleeping_does_not_accumulate(proc):
    """A sleep that ends late (a busy machine) delays that pass only, not every later one."""
    clock = FakeClock(lambda n: 0.03, passes=1000, oversleep=0.004)
    status, _, _ = run(["-s", "--json", "0.1"], clock, proc)
    assert status == Exit.INTERRUPTED
    t0 = clock.starts[0]
    drift = [s - t0 - k * 0.1 for k, s in enumerate(clock.starts)]
    assert drift[0] == 0
    assert all(abs(d - 0.004) < 1e-6 for d in drift[1:]), max(drift)


def test_overrun_starts_next_pass_at_once_and_reanchors(proc, tmp_path):
    costs = {1: 0.2, 2: 2.5, 3: 0.2, 4: 0.2, 5: 3.0, 6: 0.1, 7: 0.1}
    clock = FakeClock(costs.__getitem__, passes=7)
    log = tmp_path / "passes.jsonl"
    status, _, err = run(["-s", "1"], clock, proc, PYNETSTAT_PASS_TIMES=str(log))
    assert (status, err) == (Exit.INTERRUPTED, "")
    t0 = clock.starts[0]
    # Pass 2 ran 1.0-3.5 (its successor was due at 2.0, and 3.0 went by): pass 3 starts at once,
    # and the schedule counts from there. Pass 5 ran 5.5-8.5: 6.5 and 7.5 are skipped.
    assert [round(s - t0, 9) for s in clock.starts] == [0, 1, 3.5, 4.5, 5.5, 8.5, 9.5]
    assert [round(s, 9) for s in clock.sleeps] == [0.8, 0.8, 0.8, 0.9]
    passes = [json.loads(line) for line in log.read_text().splitlines()]
    assert [p["pass"] for p in passes] == [1, 2, 3, 4, 5, 6]  # the 7th was interrupted
    assert [p["skipped"] for p in passes] == [0, 0, 1, 1, 1, 3]
    assert [round(p["seconds"], 9) for p in passes] == [0.2, 2.5, 0.2, 0.2, 3.0, 0.1]


# --- counters -----------------------------------------------------------------------------------

def set_paired(path, group: str, name: str, value: int) -> None:
    """Set one counter in a /proc/net/snmp-style file (header line, value line)."""
    lines = path.read_text().splitlines()
    for i in range(0, len(lines), 2):
        if lines[i].startswith(group + ":"):
            names, values = lines[i].split()[1:], lines[i + 1].split()[1:]
            values[names.index(name)] = str(value)
            lines[i + 1] = f"{group}: " + " ".join(values)
    path.write_text("\n".join(lines) + "\n")


def test_counter_changes_rates_and_backwards_counters():
    before = {"Tcp.InSegs": 100, "Udp.InDatagrams": 4294967290, "lo.rx_bytes": 50, "gone": 1}
    after = {"Tcp.InSegs": 300, "Udp.InDatagrams": 5, "lo.rx_bytes": 50, "new": 7}
    changes = counter_changes("statistics", before, after, 2.0)
    got = [(c.name, c.kind, c.value, c.previous, c.delta, c.rate) for c in changes]
    assert got == [
        ("Tcp.InSegs", "moved", 300, 100, 200, 100.0),
        ("Udp.InDatagrams", "reset", 5, 4294967290, None, None),  # wrapped or reset: no rate
        ("new", "added", 7, None, None, None),
        ("gone", "removed", None, 1, None, None),
    ]
    # Two readings at the same instant: a delta, but no rate (never a division by zero).
    assert counter_changes("s", {"a": 1}, {"a": 2}, 0.0)[0].rate is None


def statistics_edits(proc):
    snmp = proc / "net" / "snmp"
    set_paired(snmp, "Udp", "InDatagrams", 4294967290)
    set_paired(snmp, "Tcp", "InSegs", 1000)

    def between(passes: int) -> None:
        if passes == 1:
            set_paired(snmp, "Tcp", "InSegs", 1100)  # +100 in 2 s
            set_paired(snmp, "Udp", "InDatagrams", 5)  # the 32-bit counter wrapped
        elif passes == 2:
            set_paired(snmp, "Tcp", "InSegs", 1104)
    return between


def test_statistics_changes_text(proc):
    clock = FakeClock(lambda n: 0.1, passes=4, between=statistics_edits(proc))
    status, out, err = run(["-s", "--changes", "2"], clock, proc)
    assert (status, err) == (Exit.INTERRUPTED, "")
    display, _, changes = out.partition("\nChanges every 2 s (")
    assert "TCP Statistics for IPv4 and IPv6" in display
    assert display.count("Segments Received") == 1  # only the first display is whole
    lines = changes.splitlines()
    assert lines[0].startswith("~ moved, ! went backwards")
    assert lines[2].split() == ["Time", "Counter", "Delta", "Rate/s", "Value"]
    rows = [line.split() for line in lines[3:]]
    t2, t3 = (time.strftime("%H:%M:%S", time.localtime(EPOCH + s)) for s in clock.starts[1:3])
    assert rows == [
        [t2, "~", "Tcp.InSegs", "+100", "50.0", "1100"],
        [t2, "!", "Udp.InDatagrams", "reset", "-", "5", "(was", "4294967290)"],
        [t3, "~", "Tcp.InSegs", "+4", "2.0", "1104"],
    ]


def test_statistics_changes_json_lines(proc):
    clock = FakeClock(lambda n: 0.1, passes=4, between=statistics_edits(proc))
    status, out, _ = run(["-s", "-p", "tcp", "--json", "--changes", "2"], clock, proc)
    assert status == Exit.INTERRUPTED
    docs = [json.loads(line) for line in out.splitlines()]
    assert docs[0]["type"] == "display" and docs[0]["pass"] == 1
    assert [s["name"] for s in docs[0]["statistics"]["sections"]] == ["tcp"]
    assert docs[0]["timestamp"] == EPOCH + clock.starts[0]
    # -p tcp: the UDP counter that wrapped is not in this view.
    assert docs[1:] == [
        {"schema_version": 1, "type": "counter", "timestamp": EPOCH + clock.starts[1], "pass": 2,
         "host": os.uname().nodename, "change": "moved", "mark": "~", "view": "statistics", "name": "Tcp.InSegs",
         "value": 1100, "previous": 1000, "delta": 100, "rate": 50.0},
        {"schema_version": 1, "type": "counter", "timestamp": EPOCH + clock.starts[2], "pass": 3,
         "host": os.uname().nodename, "change": "moved", "mark": "~", "view": "statistics", "name": "Tcp.InSegs",
         "value": 1104, "previous": 1100, "delta": 4, "rate": 2.0},
    ]


def test_every_display_is_one_json_line(proc):
    clock = FakeClock(lambda n: 0.1, passes=3)
    status, out, _ = run(["-e", "-s", "-r", "--json", "1"], clock, proc)
    assert status == Exit.INTERRUPTED
    docs = [json.loads(line) for line in out.splitlines()]
    assert [(d["schema_version"], d["type"], d["pass"]) for d in docs] == [
        (1, "display", 1), (1, "display", 2), (1, "display", 3)]
    assert [d["timestamp"] for d in docs] == [EPOCH + s for s in clock.starts]
    assert all({"interfaces", "statistics", "routes"} <= d.keys() for d in docs)


def test_interfaces_and_routes_changes(proc):
    dev, route = proc / "net" / "dev", proc / "net" / "route"

    def between(passes: int) -> None:
        if passes == 1:
            text = dev.read_text().replace("lo: 29687161  520413", "lo:     1200      12")
            text = text.replace("  ifb1:", "  veth7:")  # ifb1 went away, veth7 came
            dev.write_text(text)
            route.write_text(route.read_text()
                             + "eth0\t0000090A\t00000000\t0001\t0\t0\t5\t0000FFFF\t0\t0\t0\n")

    clock = FakeClock(lambda n: 0.1, passes=3, between=between)
    status, out, err = run(["-e", "-r", "--changes", "1"], clock, proc, _tty=True)
    assert (status, err) == (Exit.INTERRUPTED, "")
    changes = out.partition("\nChanges every 1 s (")[2]
    plain = changes.replace("\033[0m", "")
    for code in ("\033[32m", "\033[31m", "\033[33m", "\033[35m"):
        plain = plain.replace(code, "")
    rows = [line.split()[1:] for line in plain.splitlines()[3:]]
    fields = ("packets", "bytes", "errors", "dropped")
    assert rows == [
        ["!", "lo.rx_packets", "reset", "-", "12", "(was", "520413)"],
        ["!", "lo.rx_bytes", "reset", "-", "1200", "(was", "29687161)"],
        *(["+", f"veth7.{d}_{f}", "new", "-", "0"] for f in fields for d in ("rx", "tx")),
        *(["+", f"veth7.{name}", "new", "-", "0"] for name in (
            "multicast", "collisions", "rx_fifo_errors", "tx_fifo_errors", "rx_compressed",
            "tx_compressed")),
        *(["-", f"ifb1.{d}_{f}", "gone", "-", "-"] for f in fields for d in ("rx", "tx")),
        *(["-", f"ifb1.{name}", "gone", "-", "-"] for name in (
            "multicast", "collisions", "rx_fifo_errors", "tx_fifo_errors", "rx_compressed",
            "tx_compressed")),
        ["+", "IPv4", "10.9.0.0/16", "dev", "eth0", "metric", "5"],
    ]
    assert "\033[35m" in changes and "\033[32m" in changes  # a terminal, NO_COLOR unset


def test_no_colour_without_a_terminal_or_with_no_color(proc):
    edits = statistics_edits(proc)
    for tty, environ in ((False, {}), (True, {"NO_COLOR": "1"})):
        clock = FakeClock(lambda n: 0.1, passes=3, between=edits)
        _, out, _ = run(["-s", "--changes", "2"], clock, proc, _tty=tty, **environ)
        assert "Tcp.InSegs" in out and "\033[" not in out
        statistics_edits(proc)  # back to the starting values
