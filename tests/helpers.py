"""The one test harness: run the CLI in-process with its environment injected, and read what it
printed back, judged against the spec's layout and docs/escaping.md (written from the spec, not
from the renderer): a row is ``  Proto  Local  Foreign  State  PID`` with every cell starting
exactly under its heading (in terminal columns), and no character a terminal would act on.

tests/conftest.py and tests/attack/check.py both take these from here.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import unicodedata

# How many examples a property test draws: its count in the default run (kept within the suite's
# 5-minute budget), times PYNETSTAT_DEEP in a deeper run (`make deep`: 4).
DEEP = int(os.environ.get("PYNETSTAT_DEEP") or 1)


def examples(count: int) -> int:
    return count * DEEP


HEADINGS = ("Proto", "Local Address", "Foreign Address", "State", "PID")
STATES = {"LISTENING", "ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT", "SYN_SENT", "SYN_RECEIVED",
          "FIN_WAIT_1", "FIN_WAIT_2", "LAST_ACK", "CLOSING", "CLOSED", "BOUND"}


class Result:
    """What one run of pynetstat gave: exit status, stdout (also ``out``), stderr (also ``err``).
    Its ``__dict__`` (status, out, err) is what a sandboxed child sends back; it unpacks as
    ``status, stdout, stderr``."""

    def __init__(self, status: int, stdout: str, stderr: str):
        self.status, self.out, self.err = status, stdout, stderr

    @property
    def stdout(self) -> str:
        return self.out

    @property
    def stderr(self) -> str:
        return self.err

    def __iter__(self):
        return iter((self.status, self.out, self.err))

    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Result({self.status}, out={self.out[:300]!r}, err={self.err[:300]!r})"


def run_inprocess(argv: list[str], *, environ: dict | None = None, proc_root=None, netlink=None,
                  netlink_factory=None, resolve_budget: str | None = None) -> Result:
    """``cli.main(argv, Environment(StringIO, StringIO, ...))``: the whole CLI, in this process.
    ``environ`` None: this process's; ``netlink``: one source for every request (or a
    ``netlink_factory``); ``resolve_budget``: PYNETSTAT_RESOLVE_BUDGET, over ``environ`` (then
    only what ``environ`` gives besides)."""
    from pynetstat.cli import main
    from pynetstat.env import Environment

    if resolve_budget is not None:
        environ = {"PYNETSTAT_RESOLVE_BUDGET": resolve_budget, **(environ or {})}
    if netlink is not None:
        netlink_factory = lambda: netlink  # noqa: E731
    out, err = io.StringIO(), io.StringIO()
    env = Environment(out, err, environ=environ,
                      proc_root=None if proc_root is None else str(proc_root),
                      netlink_factory=netlink_factory)
    status = main(list(argv), env)
    return Result(status, out.getvalue(), err.getvalue())


# --- judges --------------------------------------------------------------------------------

def columns(text: str) -> int:
    """Terminal columns of printable text: East Asian wide/fullwidth 2, combining marks 0."""
    n = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def assert_printable(text: str) -> None:
    """No C0 (but the newline ending each line), DEL, C1, format (bidi, zero-width), separator
    or unassigned character: ``str.isprintable()`` is False for exactly those."""
    text.encode("utf-8")  # no lone surrogate (it would not encode)
    for no, line in enumerate(text.split("\n"), 1):
        bad = [f"U+{ord(c):04X}" for c in line if not c.isprintable()]
        assert not bad, f"line {no} holds {bad}: {line!r}"


def _cells(line: str, starts: list[int]) -> list[str]:
    """Cut ``line`` at the terminal columns ``starts`` (where the headings start). Each cut must
    fall exactly on a column (no wide character straddles it) with a blank before it, and the
    cell after it must start there (not further right), unless it is empty (UDP's State)."""
    pieces, cur, col, k = [], [], 0, 1
    for ch in line:
        if k < len(starts) and col >= starts[k]:
            assert col == starts[k], f"a wide character straddles column {starts[k]}: {line!r}"
            pieces.append("".join(cur))
            cur = []
            k += 1
        cur.append(ch)
        col += columns(ch)
    pieces.append("".join(cur))
    assert pieces[0][:2] == "  " and pieces[0][2:3] != " ", line
    for i in range(len(pieces) - 1):
        assert pieces[i].endswith(" "), f"cell {i} runs into the next column: {line!r}"
        nxt = pieces[i + 1]
        assert not nxt.startswith(" ") or not nxt.strip(), \
            f"cell {i + 1} does not start under its heading: {line!r}"
    return [p.strip() for p in pieces] + [""] * (len(starts) - len(pieces))


def _endpoint_ok(text: str, numeric: bool) -> bool:
    if text == "*:*":
        return True
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port:
        return False
    if numeric and not (port.isdigit() and int(port) <= 65535):
        return False
    if not numeric:  # a name: anything printable but a blank (docs/escaping.md, safe_token)
        return " " not in host
    if host.startswith("["):
        if not host.endswith("]"):
            return False
        addr = host[1:-1].partition("%")[0]
        try:
            return ipaddress.IPv6Address(addr) is not None
        except ValueError:
            return False
    try:  # a socket bound to a device: 0.0.0.0%eth0, as ss prints it
        ipaddress.IPv4Address(host.partition("%")[0])
    except ValueError:
        return False
    return True


ROW_START = re.compile(r"^  (TCP|UDP|MPTCP) ")


def _could_be_row(line: str) -> bool:
    """Would a reader take this line for a row? (A -b line too short to hold a row is not.)"""
    return bool(ROW_START.match(line)) and len(line.split()) >= 3 and len(line) > 2 + 7 + 23


def parse_table(out: str, *, pids: bool | None = None, numeric: bool = True, owner_lines: bool = False,
                block: int = 2048, rows_expected: int | None = None) -> list[tuple[str, ...]]:
    """Every row of a connection table, checked: the title, the heading, each cell under its
    heading (in the first block, where the heading's widths hold), each cell well formed.
    Lines under a row (-b) are allowed only when ``owner_lines``; when the caller knows how
    many rows there are, a -b line that reads as a row is caught by the count. ``pids``: whether
    a PID column is expected (None: as the heading says). Rows are tuples of cells, a UDP row's
    State ``""``."""
    assert_printable(out)
    assert out.endswith("\n"), out[-200:]
    lines = out.split("\n")[:-1]
    assert lines[:3] == ["", "Active Connections", ""], lines[:3]
    header = lines[3]
    if pids is None:  # whatever the heading says
        pids = header.rstrip().endswith("PID")
    names = HEADINGS if pids else HEADINGS[:4]
    starts = [header.index(h) for h in names]
    assert header.startswith("  Proto  ") and all(header.count(h) == 1 for h in names), header
    rows = []
    for line in lines[4:]:
        if not (_could_be_row(line) if owner_lines else ROW_START.match(line)):
            assert owner_lines, f"not a row: {line!r}"
            assert line.startswith(("  ", " [", " Can not obtain ownership information")), line
            assert line.strip(), f"blank line inside the table: {line!r}"
            continue
        if len(rows) < block:
            cells = _cells(line, starts)
        else:
            cells = line.split()
            if cells[0] == "UDP" and len(cells) == len(names) - 1:
                cells.insert(3, "")
        rows.append(tuple(cells))
        proto, local, foreign, state = cells[:4]
        assert _endpoint_ok(local, numeric), f"bad local address {local!r}: {line!r}"
        assert _endpoint_ok(foreign, numeric), f"bad foreign address {foreign!r}: {line!r}"
        if proto in ("TCP", "MPTCP"):
            assert state in STATES or re.fullmatch(r"UNKNOWN\(\d+\)", state), line
        else:
            assert state == "", line
        if pids:
            assert re.fullmatch(r"-|\d+(\+\d+)?", cells[4]), f"bad PID cell: {line!r}"
    if rows_expected is not None:
        assert len(rows) == rows_expected, f"{len(rows)} rows, expected {rows_expected}:\n{out}"
    return rows
