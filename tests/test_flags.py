"""The flag table (pynetstat.flags) is what the parser reads and what --help prints: every row's
spellings mean the same, and --help names every row."""

from __future__ import annotations

import pytest

from pynetstat.cli import help_text, parse_args
from pynetstat.flags import FLAGS, POSITIONAL, USAGE

SWITCHES = [row for row in FLAGS if not row.arg and row.field not in ("help", "version")]


@pytest.mark.parametrize("row", SWITCHES, ids=lambda row: row.field)
def test_every_spelling_of_a_switch_sets_its_field(row):
    argv_extra = ["1"] if row.field == "changes" else []  # --changes needs an interval
    spellings = ([f"-{row.short}"] if row.short else []) + list(row.long_names)
    assert spellings, row.field
    for spelling in spellings:
        opts = parse_args([spelling, *argv_extra])
        assert getattr(opts, row.field) is True, spelling


@pytest.mark.parametrize("spelling", ["-p", "--proto", "--protocol"])
def test_every_spelling_of_proto(spelling):
    assert parse_args([spelling, "udpv6"]).protocol == "UDPv6"
    assert parse_args([f"{spelling}=udpv6" if spelling.startswith("--") else f"{spelling}udpv6"]).protocol == "UDPv6"


def test_positional_is_the_interval():
    assert POSITIONAL.field == "interval"
    assert parse_args(["-an", "0.5"]).interval == 0.5


def test_help_names_every_row():
    text = help_text()
    assert USAGE in text
    for row in FLAGS:
        assert f"\n  {row.label} " in text, row.label
        for name in row.long_names:
            assert name in text, name


def test_choices_of_proto_are_the_options_lists():
    from pynetstat.options import CONNECTION_PROTOCOLS, STATISTICS_PROTOCOLS

    (proto,) = [row for row in FLAGS if row.field == "protocol"]
    assert set(proto.choices) == set(CONNECTION_PROTOCOLS) | set(STATISTICS_PROTOCOLS)
