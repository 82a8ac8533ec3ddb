"""What docs/json.md and --help say is what the program does (issue 11's documentation items),
on a recorded kernel."""

from __future__ import annotations

import json

from golden_outputs import run


def _sections(argv: list[str]) -> list[dict]:
    out = run("stats-host", argv)
    return json.loads(out.split("--- stdout\n", 1)[1].split("--- stderr\n", 1)[0])[
        "statistics"]["sections"]


def test_statistics_kernel_is_null_without_v_and_never_absent():
    for section in _sections(["-s", "--json"]):
        assert "kernel" in section and section["kernel"] is None, section["name"]


def test_statistics_kernel_with_v_holds_only_what_the_lines_do_not_show():
    for section in _sections(["-sv", "--json"]):
        if not section["available"]:
            assert section["kernel"] is None
            continue
        assert section["kernel"], section["name"]
        if section["name"] == "tcp":
            shown = {"ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets", "CurrEstab",
                     "InSegs", "OutSegs", "RetransSegs"}
            assert not shown & set(section["kernel"]["Tcp"])
            assert "TcpExt" in section["kernel"]


def test_help_says_what_non_unicast_counts():
    from pynetstat.cli import help_text

    text = " ".join(help_text().split())
    assert "Non-unicast packets is the driver's multicast count" in text
    assert "every counter the kernel keeps" not in text


def test_readme_says_the_table_is_in_kernel_order_and_why():
    import os

    from conftest import REPO

    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = " ".join(f.read().split())
    assert "lists sockets in the kernel's order" in readme and "200,000 sockets stream" in readme
    assert "veth and lo count nothing there" in readme
