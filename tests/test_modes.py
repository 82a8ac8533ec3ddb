"""Every mode, run as users run it: the launcher as a subprocess of the interpreter under test
(.ci/run runs this on each Python it finds). Exit 0, something printed, stderr only pynetstat's
own notes. An interval mode runs until its second display, then gets Ctrl+C (exit 130)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import LAUNCHER

QUICK = {"PYNETSTAT_RESOLVE_BUDGET": "0.5"}
ONCE = [["-an"], ["-ano"], ["-anb"], ["-anbv"], ["-a"], ["-n", "-p", "udpv6"], ["-s"], ["-sv"],
        ["-s", "-p", "icmp"], ["-e"], ["-ev"], ["-r"], ["-rv"], ["-ers"], ["-ano", "--json"],
        ["-s", "--json"], ["-e", "--json"], ["-r", "--json"], ["--help"], ["--version"]]
REPEATED = [["-an", "0.2"], ["-ano", "--changes", "0.2"], ["-s", "0.2"], ["-an", "--json", "0.2"],
            ["-es", "--json", "--changes", "0.2"]]


def _env() -> dict:
    import os

    return {**os.environ, **QUICK}


def _quiet(err: str) -> None:
    assert all(line.startswith("pynetstat: ") for line in err.splitlines()), err


@pytest.mark.parametrize("argv", ONCE, ids=" ".join)
def test_mode_runs_once(argv):
    p = subprocess.run([sys.executable, LAUNCHER, *argv], capture_output=True, text=True,
                       env=_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()
    _quiet(p.stderr)
    if "--json" in argv:
        json.loads(p.stdout)


@pytest.mark.parametrize("argv", REPEATED, ids=" ".join)
def test_mode_repeats_until_ctrl_c(argv):
    p = subprocess.Popen([sys.executable, LAUNCHER, *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=_env())
    try:
        first = p.stdout.readline()
        assert first, p.stderr.read()
        if "--json" in argv and "--changes" in argv:  # a change line only when one comes
            json.loads(first)
            time.sleep(0.5)
        elif "--json" in argv:  # JSON Lines: one document a line, wait for the second
            json.loads(first)
            json.loads(p.stdout.readline())
        elif "--changes" in argv:  # text changes: the first display, then maybe nothing
            assert p.stdout.readline().strip() == "Active Connections"
            time.sleep(0.5)
        else:  # text: wait for the title of the second display
            titles = 0
            for line in p.stdout:
                titles += line.strip() in ("Active Connections", "IPv4 Statistics")
                if titles == 2:
                    break
            assert titles == 2
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, err
    _quiet(err)
