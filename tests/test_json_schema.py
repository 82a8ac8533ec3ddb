"""docs/json.md is the schema: every documented field appears with its documented type, and no
field appears that the document does not name. Checked against real output for sockets this test
opens on loopback."""

from __future__ import annotations

import io
import json
import os
import re
import socket

import pytest

from pynetstat.cli import main
from pynetstat.env import Environment

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "json.md")


def documented_fields(heading: str) -> dict[str, str]:
    """The ``field | type`` rows of the first table after ``heading`` in docs/json.md."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    section = text.split(heading, 1)[1]
    fields = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        m = re.match(r"\|\s*([a-z_0-9]+)\s*\|\s*([^|]+?)\s*\|", line)
        if m and m.group(1) != "field":
            fields[m.group(1)] = m.group(2)
    assert fields, f"no table under {heading!r} in docs/json.md"
    return fields


def type_ok(value, doc_type: str) -> bool:
    nullable = "null" in doc_type
    if value is None:
        return nullable
    base = doc_type.split(" or ")[0].split(",")[0].strip()
    if base.startswith("object"):
        return isinstance(value, dict)
    if base.startswith("array of"):
        item = base[len("array of "):].strip()
        kinds = {"object": dict, "string": str, "int": int}
        return isinstance(value, list) and all(isinstance(v, kinds[item]) for v in value)
    kinds = {"int": int, "string": str, "bool": bool}
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kinds[base])


def run_json(argv: list[str]) -> dict:
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, Environment(out, err, environ={"PYNETSTAT_RESOLVE_BUDGET": "1"}))
    assert status == 0, err.getvalue()
    return json.loads(out.getvalue())


@pytest.fixture
def pair():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    yield listener, client, server
    for s in (client, server, listener):
        s.close()


def check(record: dict, heading: str) -> None:
    fields = documented_fields(heading)
    assert set(record) == set(fields), f"{heading}: documented {sorted(fields)}, got {sorted(record)}"
    for name, doc_type in fields.items():
        assert type_ok(record[name], doc_type), f"{heading}: {name}={record[name]!r} is not {doc_type}"


@pytest.mark.parametrize("argv", [["-an", "--json"], ["-ano", "--json"], ["-anob", "--json"],
                                  ["-anobv", "--json"], ["-a", "--json"]])
def test_connection_records_match_the_document(pair, argv):
    inodes = {os.fstat(s.fileno()).st_ino for s in pair}  # our three sockets, by identity
    doc = run_json(argv)
    check({k: v for k, v in doc.items() if k != "connections"} | {"connections": []}, "### Top level")
    mine = [c for c in doc["connections"] if c["inode"] in inodes]
    assert len(mine) == 3  # listener, client side, server side
    for record in mine:
        check(record, "### A connection")
        if "b" in argv[0]:
            for owner in record["owners"]:
                check(owner, "### An owner")
        elif "o" in argv[0]:
            assert all(set(o) == {"pid", "name"} for o in record["owners"])
            assert record["pid"] == os.getpid()
        else:
            assert record["owners"] is None and record["pid"] is None


def test_owner_scan_fields_are_documented(pair):
    doc = run_json(["-ano", "--json"])
    scan = doc["owner_scan"]
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    for key, value in scan.items():
        assert f"`{key}`" in text, f"owner_scan.{key} is not documented"
        if key == "unattributed_reason":  # the one string (or null) among the counts
            assert value is None or isinstance(value, str)
        else:
            assert isinstance(value, int)


def test_extension_objects_match_the_document(pair):
    """-d --timers --memory --info: each object of the row has exactly the documented fields."""
    inodes = {os.fstat(s.fileno()).st_ino for s in pair}
    doc = run_json(["-an", "-d", "--timers", "--memory", "--info", "--json"])
    mine = [c for c in doc["connections"] if c["inode"] in inodes]
    assert len(mine) == 3
    for record in mine:
        check(record, "### A connection")
        assert isinstance(record["dscp"], int)
        check(record["timer"], "### A timer")
        check(record["memory"], "### Memory")
        check(record["tcp_info"], "### tcp_info")


def test_the_tcp_info_table_is_the_renderers():
    from pynetstat.render.extensions_json import MEMORY_SCHEMA, TCP_INFO_SCHEMA, TIMER_SCHEMA

    assert list(documented_fields("### tcp_info").items()) == list(TCP_INFO_SCHEMA)
    assert list(documented_fields("### Memory").items()) == list(MEMORY_SCHEMA)
    assert list(documented_fields("### A timer").items()) == list(TIMER_SCHEMA)


def test_netns_rows_and_the_all_netns_top_level_match_the_document(pair):
    """--all-netns (the host's namespace is always one, as is this process's, so no namespace
    needs making here: tests/test_netns_cli.py makes them)."""
    inodes = {os.fstat(s.fileno()).st_ino for s in pair}
    doc = run_json(["-ano", "--all-netns", "--json"])
    check({k: v for k, v in doc.items() if k != "connections"} | {"connections": []},
          "### The top level with `--all-netns`")
    mine = [c for c in doc["connections"] if c["inode"] in inodes]
    assert len(mine) == 3
    row = documented_fields("### A connection") | documented_fields("## Network namespaces")
    for record in mine:
        assert list(record) == list(row)  # netns last
        check(record["netns"], "### The netns object")
        assert record["netns"]["label"] == "host"
    for part in doc["namespaces"]:
        check(part["netns"], "### The netns object")
        top = documented_fields("### Top level")
        assert set(part) == {"netns", "source", "why"} | set(top) - {"schema_version",
                                                                        "connections"}
