"""The flag table (pynetstat.flags) is what the parser reads and what --help, the man page and the
completions are generated from: every row's spellings mean the same, and each of those lists
exactly the table's flags."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import LAUNCHER, REPO, run_inprocess
from pynetstat.cli import help_text, parse_args
from pynetstat.flags import EXAMPLES, FLAGS, POSITIONAL, USAGE

SWITCHES = [row for row in FLAGS if not row.arg and row.field not in ("help", "version")]


@pytest.mark.parametrize("row", SWITCHES, ids=lambda row: row.field)
def test_every_spelling_of_a_switch_sets_its_field(row):
    # --changes needs an interval, --close a filter, --yes --close
    argv_extra = {"changes": ["1"], "close": ["--lport", "1"],
                  "yes": ["--close", "--lport", "1"]}.get(row.field, [])
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
    from pynetstat.kinds import CONNECTION_PROTOCOLS
    from pynetstat.options import STATISTICS_PROTOCOLS

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
    listing = help_text().partition("\nExamples:")[0]  # examples cluster letters (-ano)
    assert set(OPTION.findall(listing)) == SPELLINGS


def test_man_page_lists_the_flags_of_the_table():
    text = re.sub(r"\\f[BIR]", "", _read("pynetstat.1")).replace("\\-", "-")
    listing = re.sub(r"\.SH EXAMPLES\n.*?(?=\.SH )", "", text, flags=re.S)  # examples cluster letters
    assert set(OPTION.findall(listing)) == SPELLINGS
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
    rows = "\n".join(line for line in text.splitlines() if line.startswith("complete -c"))
    names = {f"-{m}" for m in re.findall(r" -s (\w)", rows)} | {f"--{m}" for m in re.findall(r" -l ([\w-]+)", rows)}
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


# --- a filter's items complete (issue 14): states, users, PIDs, interfaces ----------------------

def _state_words() -> list[str]:
    sys.path.insert(0, os.path.join(REPO, "tools"))
    try:
        from gen_docs import state_words
    finally:
        sys.path.remove(os.path.join(REPO, "tools"))
    return state_words()


def test_every_state_word_offered_is_one_the_filter_takes():
    from pynetstat.select import parse_states

    words = _state_words()
    assert {"listening", "time-wait", "syn-sent", "connected", "synchronized", "bucket", "big",
            "all", "established", "close-wait"} <= set(words)
    for word in words:
        parse_states("state", word)  # raises on a word the filter does not take


def test_every_filter_row_with_items_names_a_completer():
    rows = {row.long: row.complete for row in FLAGS if row.complete}
    assert rows == {"state": "states", "user": "users", "pid": "pids", "interface": "interfaces"}


def _users() -> set[str]:
    with open("/etc/passwd", encoding="utf-8") as f:
        return {line.split(":")[0] for line in f if line.strip() and not line.startswith("#")}


def _interfaces() -> set[str]:
    return set(os.listdir("/sys/class/net"))


# (typed after the option, what must be offered): comma lists keep what comes before the last
# item, a leading ! stays
ITEMS = [
    ("--state", "li", {"listen", "listening"}),
    ("--state", "listen,time-", {"listen,time-wait"}),
    ("--state", "!est", {"!established"}),
    ("--state", "!listen,clos", {"!listen,close", "!listen,closed", "!listen,close-wait",
                                 "!listen,closing"}),
]


def _bash_items(option: str, typed: str) -> list[str]:
    script = (f"source {os.path.join(REPO, 'completions/bash/pynetstat')}; "
              f"COMP_WORDS=(pynetstat -an {option} {shlex.quote(typed)}); COMP_CWORD=3; "
              '_pynetstat; printf "%s\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert p.stderr == ""
    return [line for line in p.stdout.splitlines() if line]


def _fish_items(option: str, typed: str) -> list[str]:
    script = (f"source {os.path.join(REPO, 'completions/fish/pynetstat.fish')}; "
              f"complete -C {shlex.quote(f'pynetstat -an {option} {typed}')}")
    p = subprocess.run(["fish", "-c", script], capture_output=True, text=True, timeout=60)
    assert p.stderr == ""
    return [line.split("\t")[0] for line in p.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_filter_items_complete(shell):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    items = {"bash": _bash_items, "fish": _fish_items}[shell]
    for option, typed, expected in ITEMS:
        assert set(items(option, typed)) == expected, (option, typed)
    assert set(items("--state", "")) == set(_state_words())
    users = _users()
    assert set(items("--user", "")) == users  # the password database (this machine's is files)
    first = sorted(users)[0]
    assert set(items("--user", f"nobody,{first[:2]}")) == {f"nobody,{u}" for u in users
                                                             if u.startswith(first[:2])}
    assert set(items("--interface", "")) == _interfaces()
    pids = set(items("--pid", ""))
    assert {"1", str(os.getpid())} <= pids and all(p.isdigit() for p in pids)


def test_zsh_completion_lists_the_filter_items():
    text = _read("completions/zsh/_pynetstat")
    state = re.search(r"--state=.*?:STATE:_sequence -s , compadd - ([^']*)'", text)
    assert state is not None and state[1].split() == _state_words()
    for option, arg, completer in (("user", "USER", "_users"), ("pid", "PID", "_pids"),
                                   ("interface", "NAME", "_net_interfaces")):
        assert re.search(rf"--{option}=\S*?\[.*?\]:{arg}:_sequence -s , {completer}'", text), option


# --- the examples at the end of --help work ---------------------------------------------------

def _pynetstat_part(command: str) -> list[str]:
    first = command.split(" | ")[0]
    words = shlex.split(first)
    assert words[0] == "pynetstat", command
    return words[1:]


@pytest.mark.parametrize(("question", "command"), EXAMPLES, ids=[c for _, c in EXAMPLES])
def test_example_runs(question, command):
    assert f"  {question}\n      {command}\n" in help_text()
    assert subprocess.run(["bash", "-n", "-c", command], timeout=60).returncode == 0
    argv = _pynetstat_part(command)
    opts = parse_args(argv)
    if opts.interval is None:
        result = run_inprocess(argv, environ={"PYNETSTAT_RESOLVE_BUDGET": "0.5"})
        assert result.status == 0, result
        assert all(line.startswith("pynetstat: ") for line in result.stderr.splitlines()), result.stderr
        assert result.stdout
        return
    # An interval runs until Ctrl+C: the first display, then SIGINT, exit 130.
    p = subprocess.Popen([sys.executable, LAUNCHER, *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "\n"
        assert p.stdout.readline() == "Active Connections\n"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert (p.returncode, err) == (130, "")


def test_port_example_finds_a_listener(sockets):
    """The grep of "what listens on port 80" picks the listener's row (on a port free here)."""
    import socket

    (command,) = [c for _, c in EXAMPLES if ":80 " in c]
    listener = socket.socket()
    sockets.append(listener)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    pattern = shlex.split(command.split(" | ")[1])[1].replace(":80 ", f":{port} ")
    result = run_inprocess(_pynetstat_part(command))
    rows = [line for line in result.stdout.splitlines() if re.search(pattern, line)]
    assert len(rows) == 1 and rows[0].split()[-1] == str(os.getpid()), rows
