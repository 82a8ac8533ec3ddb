"""The flag table (pynetstat.flags) is what the parser reads and what --help, the man page and the
completions are generated from: every row's spellings mean the same, and each of those lists
exactly the table's flags."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
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


# --- the man page and the completions are generated from the table and list what it lists -----

TOOLS = os.path.join(REPO, "tools")
OPTION = re.compile(r"(?<![\w/-])(--?[a-z][a-z-]*)")
SPELLINGS = {name for row in FLAGS
             for name in ([f"-{row.short}"] if row.short else []) + list(row.long_names)}
(PROTO,) = [row for row in FLAGS if row.field == "protocol"]


def _read(path: str) -> str:
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def test_generated_files_match_the_table():
    """Regenerate and compare: tools/gen_docs.py --check."""
    p = subprocess.run([sys.executable, os.path.join(TOOLS, "gen_docs.py"), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_help_lists_the_flags_of_the_table():
    assert set(OPTION.findall(help_text())) == SPELLINGS


def test_man_page_lists_the_flags_of_the_table():
    text = re.sub(r"\\f[BIR]", "", _read("pynetstat.1")).replace("\\-", "-")
    assert set(OPTION.findall(text)) == SPELLINGS
    for row in FLAGS:  # each has its own entry under OPTIONS
        assert any(line.startswith(row.label.split(",")[0].split()[0]) for line in text.split("\n.TP\n")[1:]), row.label


def test_man_page_reads_without_warnings():
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    p = subprocess.run(["man", "--warnings", "-l", os.path.join(REPO, "pynetstat.1")],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "MANPAGER": "cat"})
    assert (p.returncode, p.stderr) == (0, "")
    assert "pynetstat" in p.stdout


def test_bash_completion_lists_the_flags_and_protocols():
    text = _read("completions/bash/pynetstat")
    words = re.findall(r'compgen -W "([^"]*)"', text)
    assert [set(w.split()) for w in words] == [set(PROTO.choices), SPELLINGS]


def test_zsh_completion_lists_the_flags_and_protocols():
    text = _read("completions/zsh/_pynetstat")
    outside = re.sub(r"\[(?:\\.|[^\]\\])*\]", "", text)  # drop the descriptions
    assert set(OPTION.findall(outside)) == SPELLINGS
    assert set(re.search(r":proto:\(([^)]*)\)", text)[1].split()) == set(PROTO.choices)


def test_fish_completion_lists_the_flags_and_protocols():
    text = _read("completions/fish/pynetstat.fish")
    names = {f"-{m}" for m in re.findall(r" -s (\w)", text)} | {f"--{m}" for m in re.findall(r" -l ([\w-]+)", text)}
    assert names == SPELLINGS
    assert set(re.search(r" -a '([^']*)'", text)[1].split()) == set(PROTO.choices)


@pytest.mark.parametrize(("shell", "check", "path"), [
    ("bash", ["-n"], "completions/bash/pynetstat"),
    ("zsh", ["-n"], "completions/zsh/_pynetstat"),
    ("fish", ["--no-execute"], "completions/fish/pynetstat.fish"),
])
def test_completion_is_valid_shell(shell, check, path):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    p = subprocess.run([shell, *check, os.path.join(REPO, path)], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (0, "")


def test_bash_completes_proto_values_after_a_cluster():
    script = (f"source {os.path.join(REPO, 'completions/bash/pynetstat')}; "
              'COMP_WORDS=(pynetstat -anp TC); COMP_CWORD=2; _pynetstat; echo "${COMPREPLY[*]}"')
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert p.stdout.split() == ["TCP", "TCPv6"]
