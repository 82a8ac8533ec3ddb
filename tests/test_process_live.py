"""read_process against real processes this test starts, read through the real /proc."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from pynetstat.linux.process import parse_cgroup, parse_stat, read_process
from pynetstat.linux.procfs import ProcFS
from pynetstat.model.process import PERMISSION_DENIED, VANISHED
from pynetstat.render.owners import UNREADABLE_LINE, owner_json, owner_lines

SLEEP = shutil.which("sleep") or "/bin/sleep"
PROC = ProcFS()


def own_comm() -> str:
    return parse_stat(PROC.read_bytes(f"{os.getpid()}/stat"))[0]


def has_control(line: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in line)


@pytest.fixture
def children():
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def start(children, argv, **kw) -> subprocess.Popen:
    # Popen returns once the child has passed exec's point of no return.
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
    children.append(p)
    # The exe link is set at exec, but argv a moment later: wait for it (or for a quick exit,
    # without reaping it: a test may want the zombie).
    for _ in range(500):
        if (PROC.read_bytes(f"{p.pid}/cmdline")
                or parse_stat(PROC.read_bytes(f"{p.pid}/stat"))[1] == "Z"):
            break
        time.sleep(0.002)
    return p


def test_child_from_known_executable(children, tmp_path):
    exe = tmp_path / "ptsleeper"
    shutil.copy2(SLEEP, exe)
    p = start(children, [str(exe), "60"])
    info = read_process(PROC, p.pid, ancestry=True)
    assert info.unreadable is None
    assert info.exe == str(exe) and not info.exe_deleted
    assert info.name == "ptsleeper" and info.cmdline == [str(exe), "60"]
    assert info.uid == os.getuid() and info.ppid == os.getpid()
    assert info.ancestry[0] == (os.getpid(), own_comm())
    assert info.ancestry[-1][0] == 1 or read_process(PROC, info.ancestry[-1][0]).ppid == 0
    raw = PROC.read_bytes(f"{p.pid}/cgroup")
    assert (info.cgroup, info.unit, info.container) == parse_cgroup(raw)
    assert any(line.endswith(":" + info.cgroup) for line in raw.decode().splitlines())
    assert owner_lines([info], verbose=False)[-1] == " [ptsleeper]"
    verbose = owner_lines([info], verbose=True)
    assert verbose[-2:] == [f"  {exe}", " [ptsleeper]"]
    assert f"  ptsleeper ({p.pid})" in verbose and f"  {own_comm()} ({os.getpid()})" in verbose


def test_deleted_executable(children, tmp_path):
    exe = tmp_path / "ptdeleted"
    shutil.copy2(SLEEP, exe)
    p = start(children, [str(exe), "60"])
    exe.unlink()
    info = read_process(PROC, p.pid)
    assert info.exe == str(exe) and info.exe_deleted
    assert owner_lines([info], verbose=False) == [" [ptdeleted (deleted)]"]
    assert owner_json(info)["exe_deleted"] is True


RENAME = (
    "import sys, time\n"
    "open('/proc/self/comm', 'wb').write(b'\\x1b[31m\\nev\\xff\\xfeil')\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def test_process_renamed_to_control_chars(children):
    hostile_arg = b"\x1b]0;pwned\x07\xff"
    p = start(children, [os.fsencode(sys.executable), b"-c", RENAME.encode(), hostile_arg],
              stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    info = read_process(PROC, p.pid, ancestry=True)
    assert info.name == "\x1b[31m\nev\udcff\udcfeil"
    assert info.cmdline[-1] == "\x1b]0;pwned\x07\udcff"
    for verbose in (False, True):
        lines = owner_lines([info], verbose)
        assert not any(has_control(line) for line in lines), lines
        "\n".join(lines).encode("utf-8")  # valid UTF-8
    assert f"  \\x1b[31m\\nev\\xff\\xfeil ({p.pid})" in owner_lines([info], True)
    doc = json.dumps(owner_json(info), ensure_ascii=False)
    assert "\n" not in doc and "\x1b" not in doc
    back = json.loads(doc.encode("utf-8"))
    assert back["name"] == "\x1b[31m\nev\\xff\\xfeil"
    assert back["cmdline"][-1] == "\x1b]0;pwned\x07\\xff"


def test_executable_path_with_hostile_bytes(children, tmp_path):
    folder = os.fsencode(tmp_path) + b"/d\x1b[7m\n\xff"
    os.mkdir(folder)
    exe = folder + b"/sl\xe2\x80\xaeeep"  # U+202E RIGHT-TO-LEFT OVERRIDE inside the name
    shutil.copy2(SLEEP, exe)
    p = start(children, [exe, b"60"])
    info = read_process(PROC, p.pid)
    assert os.fsencode(info.exe) == exe
    lines = owner_lines([info], verbose=True)
    assert not any(has_control(line) for line in lines)
    assert lines[-1] == " [sl\\u202eeep]"
    assert lines[-2].endswith("/d\\x1b[7m\\n\\xff/sl\\u202eeep")


def test_zombie_has_no_exe_but_is_not_unreadable(children):
    p = start(children, [SLEEP, "0"])
    for _ in range(500):  # not reaped: it stays a zombie until p.wait()
        if parse_stat(PROC.read_bytes(f"{p.pid}/stat"))[1] == "Z":
            break
        time.sleep(0.01)
    info = read_process(PROC, p.pid)
    assert info.state == "Z" and info.exe is None and info.cmdline == []
    assert info.unreadable is None
    assert owner_lines([info], False) == [" [sleep]"]  # the kernel's name stands in


def test_exited_process_is_vanished(children):
    p = start(children, [SLEEP, "0"])
    p.wait()
    info = read_process(PROC, p.pid, ancestry=True)
    assert info.unreadable == VANISHED
    assert owner_lines([info], True) == [UNREADABLE_LINE]


def test_parent_and_forked_child_both_read(children):
    code = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\nprint('ok', flush=True)\ntime.sleep(60)\n"
    p = start(children, [sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ok\n"
    kids = [int(pid) for pid in os.listdir("/proc") if pid.isdigit()
            and parse_stat(PROC.read_bytes(f"{pid}/stat"))[2] == p.pid]
    assert len(kids) == 1
    cache: dict = {}
    parent, child = (read_process(PROC, pid, ancestry=True, cache=cache) for pid in (p.pid, kids[0]))
    assert child.ancestry[0] == (p.pid, parent.name) and child.ancestry[1:] == parent.ancestry
    lines = owner_lines([parent, child], verbose=True)
    assert f"  {parent.name} ({p.pid})" in lines and f"  {child.name} ({kids[0]})" in lines
    os.kill(kids[0], 9)


@pytest.mark.root
def test_unprivileged_reader_gets_permission_denied(children):
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to uid 65534 (nobody)")
    target = start(children, [SLEEP, "60"])
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child drops every privilege, then reads the root-owned sleeper
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            info = read_process(ProcFS(), target.pid, ancestry=True)
            out = json.dumps([info.unreadable, info.name, owner_lines([info], False)])
            os.write(wfd, out.encode())
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    unreadable, name, lines = json.loads(data)
    assert unreadable == PERMISSION_DENIED
    assert name == "sleep"  # /proc/PID/stat stays world-readable; the exe link does not
    assert lines == [UNREADABLE_LINE]


def test_every_process_on_this_machine_reads_without_error():
    cache: dict = {}
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    infos = [read_process(PROC, pid, ancestry=True, cache=cache) for pid in pids]
    for info in infos:
        assert info.unreadable in (None, VANISHED, PERMISSION_DENIED), info
        if info.unreadable is None:
            assert info.ancestry is not None
            json.dumps(owner_json(info), ensure_ascii=False).encode("utf-8")
            for line in owner_lines([info], True):
                assert not has_control(line)
