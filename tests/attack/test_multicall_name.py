"""Issue 21 item 11: -b names the executable's file, and when the process calls itself
otherwise (a multi-call binary started through a link: Debian's ``redis-server`` ->
``redis-check-rdb``, busybox applets) its own name too. A real process: a copy of sleep(1)
named ``redis-check-rdb``, started as ``redis-server`` through a symlink (the kernel takes the
name from the path run, /proc/PID/exe from the file), holding a listener it inherited."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from .check import run_inprocess

SLEEP = shutil.which("sleep")
pytestmark = pytest.mark.skipif(SLEEP is None, reason="needs sleep(1)")


def test_b_shows_the_name_the_process_runs_under(tmp_path):
    binary = tmp_path / "redis-check-rdb"
    shutil.copy(SLEEP, binary)
    os.chmod(binary, 0o755)
    (tmp_path / "redis-server").symlink_to(binary)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    child = subprocess.Popen([str(tmp_path / "redis-server"), "60"], pass_fds=[listener.fileno()])
    listener.close()  # the child alone holds it now
    try:
        for _ in range(1000):  # until exec has replaced the forked Python
            if os.readlink(f"/proc/{child.pid}/exe") == str(binary):
                break
            os.sched_yield()
        lines = run_inprocess(["-anob", "-p", "tcp"]).out.splitlines()
        (at,) = [i for i, line in enumerate(lines) if line.split()[:2] == ["TCP", f"127.0.0.1:{port}"]]
        assert lines[at].split()[-1] == str(child.pid)
        under = []
        for line in lines[at + 1:]:
            if line.startswith("  TCP"):
                break
            under.append(line)
        assert f"  redis-server ({child.pid})" in under
        assert under[-1] == " [redis-check-rdb]"
    finally:
        child.kill()
        child.wait()
