"""--csv (docs/csv.md) over the recorded kernels, in-process: read back with Python's csv module,
every row equals the JSON row of the same thing, field for field (connections, -e, -s, -r,
--audit, --diff); docs/csv.md lists every column; a bad combination is one line. Part of the
fast subset that .ci/run runs on every Python 3.9-3.13 (tests/conftest.py: SMOKE); the live
scenes (hostile names, interval mode) are tests/test_csv.py.

The expected cell of a JSON value is written here from the doc, not taken from the renderer:
``null`` an empty cell, ``true``/``false``, a number as JSON writes it, a list or an object as
its JSON text (ASCII), a string as it is, but each character ``str.isprintable()`` rejects
written as ``json.dumps`` writes that character.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import pytest
from golden_outputs import LINUX

from helpers import run_inprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def read_csv(out: str) -> list[list[str]]:
    """The records of a CSV document, after checking it is RFC 4180 as we promise: every line
    ends in CRLF and holds no other control character (no raw newline, ESC, ... inside a cell)."""
    assert out.endswith("\r\n"), out[-200:]
    for line in out[:-2].split("\r\n"):
        assert line.isprintable(), line
    rows = list(csv.reader(io.StringIO(out, newline=""), strict=True))
    assert len(rows) == out.count("\r\n"), "a record spans more than one line"
    return rows


def expected_cell(value) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return "".join(ch if ch.isprintable() else json.dumps(ch)[1:-1] for ch in value)
    raise AssertionError(f"a container is compared as JSON text: {value!r}")


def assert_cell(cell: str, value, where) -> None:
    if isinstance(value, (list, dict)):
        assert cell.isascii(), where
        assert json.loads(cell) == value, where
    else:
        assert cell == expected_cell(value), (where, cell, value)


def assert_rows_equal(rows: list[list[str]], records: list[dict], lead: int = 0) -> None:
    """CSV rows (header first) against JSON records: the same keys in the same order after the
    first ``lead`` columns, and each cell the record's value."""
    header, body = rows[0], rows[1:]
    assert len(body) == len(records), (len(body), len(records))
    for i, (row, record) in enumerate(zip(body, records)):
        assert header[lead:] == list(record), (header, list(record))
        assert len(row) == len(header)
        for name, cell in zip(header[lead:], row[lead:]):
            assert_cell(cell, record[name], (i, name))


# --- recorded kernels --------------------------------------------------------------------------

def replay(scenario: str, argv: list[str]):
    from pynetstat.linux.netlink import ReplayNetlink

    base = os.path.join(LINUX, scenario)
    return run_inprocess(argv, environ={}, proc_root=os.path.join(base, "proc"),
                         netlink_factory=lambda: ReplayNetlink(os.path.join(base, "netlink")))


def scenarios(prefix: str) -> list[str]:
    return sorted(name for name in os.listdir(LINUX) if name.startswith(prefix))


@pytest.mark.skipif(sys.byteorder != "little", reason="recordings are little-endian")
@pytest.mark.parametrize("scenario", scenarios("conn-"))
@pytest.mark.parametrize("argv", [["-an"], ["-ano"], ["-anob"], ["-anobv"], ["-anp", "udpv6"]],
                         ids=" ".join)
def test_recorded_connections_equal_json(scenario, argv):
    as_json, as_csv = replay(scenario, [*argv, "--json"]), replay(scenario, [*argv, "--csv"])
    assert as_csv.status == as_json.status == 0, as_csv
    assert as_csv.err == as_json.err  # what JSON puts after its rows, CSV says on stderr
    records = json.loads(as_json.out)["connections"]
    rows = read_csv(as_csv.out)
    assert rows[0][:4] == ["proto", "family", "local_address", "local_port"]
    assert_rows_equal(rows, records)


def rebuild_interfaces(rows: list[list[str]]) -> tuple[dict | None, list[dict]]:
    """The JSON ``total`` and ``interfaces`` made back from -e's CSV rows (docs/csv.md)."""
    header = rows[0]
    stats = [c for c in header[4:] if c.endswith(("_received", "_sent"))]
    kernel = [c for c in header[4:] if c not in stats]

    def value(cell: str):
        return None if cell == "" else cell if not cell.isdigit() else int(cell)

    def statistics(rec: dict) -> dict:
        out: dict = {}
        for c in stats:
            key, _, way = c.rpartition("_")
            out.setdefault(key, {})[way] = value(rec[c])
        return out

    total, interfaces = None, []
    for row in rows[1:]:
        rec = dict(zip(header, row))
        if rec["row"] == "total":
            assert total is None and not interfaces, "the total comes first, once"
            total = statistics(rec)
            assert all(rec[c] == "" for c in ("index", "name", "hw_address", *kernel))
        else:
            assert rec["row"] == "interface"
            interfaces.append({"index": value(rec["index"]), "name": rec["name"],
                               "hw_address": value(rec["hw_address"]),
                               "statistics": statistics(rec),
                               "kernel": {c: value(rec[c]) for c in kernel}})
    return total, interfaces


def rebuild_statistics(rows: list[list[str]]) -> list[dict]:
    header = rows[0]
    assert header == ["section", "available", "kernel", "counter", "value", "received", "sent"]
    sections: dict[str, dict] = {}
    for row in rows[1:]:
        rec = dict(zip(header, row))
        section = sections.setdefault(rec["section"], {
            "name": rec["section"], "available": rec["available"] == "true",
            "counters": None, "kernel": None})
        if rec["available"] == "false":
            assert rec["counter"] == ""
            continue
        num = lambda c: None if c == "" else int(c)  # noqa: E731
        if rec["kernel"] == "true":
            group, _, name = rec["counter"].partition(".")
            section["kernel"] = section["kernel"] or {}
            section["kernel"].setdefault(group, {})[name] = num(rec["value"])
        else:
            section["counters"] = section["counters"] or {}
            # docs/csv.md: the lines of the ICMP sections count received and sent, the others
            # have one value
            if rec["section"].startswith("icmp"):
                assert rec["value"] == ""
                value = {"received": num(rec["received"]), "sent": num(rec["sent"])}
            else:
                assert rec["received"] == rec["sent"] == ""
                value = num(rec["value"])
            section["counters"][rec["counter"]] = value
    return list(sections.values())


def rebuild_routes(rows: list[list[str]]) -> list[dict]:
    """Routes made back from -r's rows: the rows of one ``route`` number are its paths."""
    header = rows[0]
    routes: list[dict] = []
    previous = None

    # docs/json.md: the integer fields of a route and of a path (table_name is a string: "100")
    numbers = {"route", "family", "table", "prefix_length", "nexthop_id", "metric", "path_ifindex",
               "path_weight", "path_nexthop_id"}

    def value(name: str, cell: str):
        return None if cell == "" else int(cell) if name in numbers else cell

    for row in rows[1:]:
        rec = {k: value(k, v) for k, v in zip(header, row)}
        own = {k: v for k, v in rec.items() if not k.startswith("path_") and k != "route"}
        path = {k[5:]: v for k, v in rec.items() if k.startswith("path_")}
        if rec["route"] != previous:
            assert rec["route"] == len(routes) + 1, "routes are numbered 1, 2, ..."
            routes.append({**own, "nexthops": []})
            previous = rec["route"]
        else:
            assert own == {k: v for k, v in routes[-1].items() if k != "nexthops"}
        if any(v is not None for v in path.values()):
            routes[-1]["nexthops"].append(path)
    return routes


SECTIONS = [["-e"], ["-ev"], ["-s"], ["-sv"], ["-s", "-p", "tcp"], ["-s", "-p", "ICMPv6"],
            ["-r"], ["-rv"]]


@pytest.mark.skipif(sys.byteorder != "little", reason="recordings are little-endian")
@pytest.mark.parametrize("scenario", scenarios("stats-"))
@pytest.mark.parametrize("argv", SECTIONS, ids=" ".join)
def test_recorded_sections_equal_json(scenario, argv):
    as_json, as_csv = replay(scenario, [*argv, "--json"]), replay(scenario, [*argv, "--csv"])
    assert as_csv.status == as_json.status == 0, as_csv
    assert as_csv.err == as_json.err
    doc = json.loads(as_json.out)
    rows = read_csv(as_csv.out)
    if "interfaces" in doc:
        total, interfaces = rebuild_interfaces(rows)
        assert total == doc["interfaces"]["total"]
        fields = rows[0][4 + 14:]
        assert interfaces == [{**i, "kernel": i["kernel"] or dict.fromkeys(fields)}
                              for i in doc["interfaces"]["interfaces"]]
    elif "statistics" in doc:
        assert rebuild_statistics(rows) == [
            {k: s[k] for k in ("name", "available", "counters", "kernel")}
            for s in doc["statistics"]["sections"]]
    else:
        want = [*(doc["routes"]["ipv4_routes"] or ()), *(doc["routes"]["ipv6_routes"] or ())]
        got = rebuild_routes(rows)
        # a route's own fields, then its paths: the same routes in the same order
        assert [{k: r[k] for k in sorted(r)} for r in got] == [
            {k: r[k] for k in sorted(r)} for r in want]



def strings_as_cells(value):
    """A JSON value with each string in it as its CSV cell reads."""
    if isinstance(value, dict):
        return {k: strings_as_cells(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strings_as_cells(v) for v in value]
    return expected_cell(value) if isinstance(value, str) else value




# --- bad combinations: one line, exit 2 -----------------------------------------------------------

@pytest.mark.parametrize(("argv", "line"), [
    (["-an", "--csv", "--json"], "pynetstat: --csv cannot be combined with --json: choose one "
     "output format\n"),
    (["--json", "-s", "--csv"], "pynetstat: --csv cannot be combined with --json: choose one "
     "output format\n"),
    (["-es", "--csv"], "pynetstat: --csv shows one view at a time: -e or -s, not both (each has "
     "its own columns)\n"),
    (["-r", "--csv", "-e", "1"], "pynetstat: --csv shows one view at a time: -e or -r, not both "
     "(each has its own columns)\n"),
    # the CSV format has no table of processes (it ended in a traceback: issue 17's typing)
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_bad_combination_is_one_line(argv, line):
    result = run_inprocess(argv)
    assert (result.status, result.out, result.err) == (2, "", line)


# --- --audit and --diff ---------------------------------------------------------------------------

@pytest.mark.skipif(sys.byteorder != "little", reason="recordings are little-endian")
def test_audit_rows_equal_the_json_findings():
    """The recording with a listener hidden from /proc/net/tcp: the finding, as JSON's."""
    as_json = replay("audit-crossview", ["--audit", "--json"])
    as_csv = replay("audit-crossview", ["--audit", "--csv"])
    assert as_csv.status == as_json.status != 0
    doc = json.loads(as_json.out)
    assert doc["findings"], "the recording gives at least one finding"
    rows = read_csv(as_csv.out)
    assert rows[0] == ["severity", "sign", "why", "process", "sockets", "evidence"]
    assert_rows_equal(rows, doc["findings"])
    assert as_csv.err == "".join(f"pynetstat: {n}\n" for n in doc["notes"])


@pytest.mark.skipif(sys.byteorder != "little", reason="recordings are little-endian")
def test_diff_rows_equal_the_json_changes(tmp_path):
    path = tmp_path / "base.json"
    listener = {"proto": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 22,
                "exe": "/usr/sbin/sshd"}
    path.write_text(json.dumps({"format": "pynetstat-baseline", "version": 1, "taken": "t",
                                "listeners": [listener], "executables": [],
                                "destinations": []}))
    done = replay("conn-normal", ["--diff", str(path), "--csv"])
    assert done.status == 5, done
    rows = read_csv(done.out)
    header = ["change", "proto", "family", "address", "port", "exe", "names", "users",
              "destinations", "was", "now"]
    assert rows == [header, ["gone-listener", "tcp", "ipv4", "0.0.0.0", "22", "/usr/sbin/sshd",
                             "", "", "", "", ""]]


# --- docs/csv.md lists the columns ----------------------------------------------------------------

def documented_columns(heading: str) -> list[str]:
    """The first column of the table under ``heading`` in docs/csv.md, a cell that lists
    several names (``bytes_received, bytes_sent, ...``) giving each."""
    with open(os.path.join(REPO, "docs", "csv.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [name.strip() for line in table for name in line.split("|")[1].split(",")]


@pytest.mark.skipif(sys.byteorder != "little", reason="recordings are little-endian")
@pytest.mark.parametrize(("heading", "scenario", "argv"), [
    ("Connections", "conn-normal", ["-an"]), ("Interface statistics", "stats-host", ["-e"]),
    ("Protocol statistics", "stats-host", ["-s"]), ("Routes", "stats-host", ["-r"]),
])
def test_docs_list_every_column(heading, scenario, argv):
    rows = read_csv(replay(scenario, [*argv, "--csv"]).out)
    assert rows[0] == documented_columns(heading)
