"""The net-tools face is chosen by name or by one switch, never guessed (issue 18): its grammar
(getopt's clusters, counted -e, abbreviated long options), its --help and --version, and that a
plain ``pynetstat -an`` neither parses with it nor imports it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from helpers import run_inprocess  # noqa: E402
from pynetstat.errors import UsageError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_switch_selects_the_face_and_p_means_program():
    from pynetstat.nettools.flags import parse_args

    opts = parse_args(["-tulpn"])
    assert (opts.tcp, opts.udp, opts.listening, opts.programs, opts.numeric_ports) == (True,) * 5
    assert parse_args(["-ee", "--numeric-h"]).extend == 2
    assert parse_args(["--numeric-h"]).numeric_hosts and not parse_args(["--numeric-h"]).numeric_ports
    assert parse_args(["-c", "0.5"]).interval == 0.5
    with pytest.raises(UsageError):
        parse_args(["--numeric"[:4]])  # --num: ambiguous (numeric, numeric-hosts, ...)
    with pytest.raises(UsageError):
        parse_args(["-ri"])
    # The Windows face keeps its grammar: -p is the protocol there, and the switch counts only
    # as the first argument (the face is never guessed from the options).
    assert run_inprocess(["-p", "tcp", "-n"]).status == 0
    assert run_inprocess(["-tulpn"]).status == 2
    assert run_inprocess(["-n", "--nettools"]).status == 2


def test_help_says_which_face_and_how_to_get_the_other():
    ours = run_inprocess(["--nettools", "--help"])
    assert ours.status == 0
    assert "net-tools" in ours.out and "`pynetstat`" in ours.out and "-p, --programs" in ours.out
    windows = run_inprocess(["--help"])
    assert "--nettools" in windows.out and "pynetstat-netstat" in windows.out
    version = run_inprocess(["--nettools", "-V"])
    assert version.status == 0 and "net-tools face" in version.out


def test_a_program_called_netstat_is_the_face(tmp_path):
    link = tmp_path / "netstat"
    link.symlink_to(os.path.join(REPO, "pynetstat"))
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "src")}
    done = subprocess.run([sys.executable, str(link), "-V"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0 and "net-tools face" in done.stdout, done.stderr
    plain = subprocess.run([sys.executable, os.path.join(REPO, "pynetstat"), "--version"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert plain.stdout.startswith("pynetstat ") and "net-tools" not in plain.stdout
    # and a plain -an neither parses with the face nor imports it
    code = ("import sys, io; from pynetstat.cli import main; from pynetstat.env import Environment;"
            "main(['-an'], Environment(io.StringIO(), io.StringIO()));"
            "print(sorted(m for m in sys.modules if 'nettools' in m))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.stdout.strip() == "[]", done.stderr


def test_timers_and_continuous(monkeypatch):
    """-o prints net-tools' timer cell; -c repeats the display until interrupted."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    peer, _ = server.accept()
    try:
        ends = f"127.0.0.1:{client.getsockname()[1]} ", f"127.0.0.1:{server.getsockname()[1]} "
        out = run_inprocess(["--nettools", "-tno"]).out
        row = next(line for line in out.splitlines() if line.split()[3:5] == [e.strip() for e in ends])
        assert row.endswith("/0/0)") and " keepalive (" in row
        assert out.splitlines()[1].endswith("State       Timer")
    finally:
        for s in (client, peer, server):
            s.close()

    from pynetstat.env import Environment

    displays = []

    def sleep(seconds):
        displays.append(seconds)
        if len(displays) == 2:
            raise KeyboardInterrupt
    import io

    from pynetstat.cli import main

    env = Environment(io.StringIO(), io.StringIO(), sleep=sleep)
    assert main(["--nettools", "-tnc", "0.25"], env) == 130
    assert displays == [0.25, 0.25]
    assert env.stdout.getvalue().count("Active Internet connections") == 2


def test_options_state_every_slots_type():
    """NetToolsOptions' slots come from the flag table; its ``if TYPE_CHECKING:`` block gives
    mypy their types (as tests/test_typing.py checks for the record classes)."""
    from pynetstat.nettools.flags import NetToolsOptions
    from test_typing import _declared

    assert sorted(_declared(NetToolsOptions)) == sorted(NetToolsOptions.__slots__)
