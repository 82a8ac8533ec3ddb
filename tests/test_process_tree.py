"""read_process replayed on a recorded-format /proc tree (tests/fixtures/linux/proc-tree)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pynetstat.linux.process import read_process, read_processes
from pynetstat.linux.procfs import ProcFS
from pynetstat.model.process import VANISHED

TREE = Path(__file__).parent / "fixtures" / "linux" / "proc-tree"
DOCKER_ID = "3a1f9c0be5d24e7f8a6b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f7"


@pytest.fixture
def procfs():
    return ProcFS(str(TREE))


def test_service_process(procfs):
    info = read_process(procfs, 801, ancestry=True)
    assert (info.name, info.ppid, info.uid, info.start_time) == ("sshd", 1, 0, 412)
    assert info.exe == "/usr/sbin/sshd" and not info.exe_deleted
    assert info.cmdline == ["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"]
    assert (info.cgroup, info.unit, info.container) == ("/system.slice/ssh.service", "ssh.service", None)
    assert info.ancestry == [(1, "systemd")]
    assert info.unreadable is None


def test_deleted_exe_and_session_ancestry(procfs):
    info = read_process(procfs, 1310, ancestry=True)
    assert info.exe == "/usr/bin/python3.11" and info.exe_deleted
    assert info.cmdline == ["python3", "-m", "http.server", "8000"]
    assert info.unit == "session-3.scope" and info.uid == 1000
    assert info.ancestry == [(1205, "bash"), (1204, "sshd"), (801, "sshd"), (1, "systemd")]


def test_container_process(procfs):
    info = read_process(procfs, 2050, ancestry=True)
    assert info.container.runtime == "docker" and info.container.id == DOCKER_ID
    assert info.ancestry == [(2001, "containerd-shim"), (1, "systemd")]


def test_init_and_kernel_threads(procfs):
    init = read_process(procfs, 1, ancestry=True)
    assert init.ancestry == [] and init.ppid == 0
    kworker = read_process(procfs, 4000, ancestry=True)
    assert kworker.exe is None and kworker.cmdline == [] and kworker.unreadable is None
    assert kworker.ancestry == [(2, "kthreadd")]


def test_vanished_parent_ends_the_ancestry(procfs):
    info = read_process(procfs, 3000, ancestry=True)
    assert info.ancestry == [(2999, None)]


def test_missing_pid_is_vanished_not_an_error(procfs):
    info = read_process(procfs, 999999, ancestry=True)
    assert info.unreadable == VANISHED and info.name is None and info.ancestry is None


def test_hostile_strings_are_kept_raw_in_the_model(procfs):
    info = read_process(procfs, 5000)
    assert info.name == "\x1b[31mred\n\udcff"
    assert info.exe == "/tmp/\u202eevil\x1b]0;x\x07/a b"
    assert info.cmdline == ["\x1b[2J", "--name=\udcff\udcfe"]
    assert info.unit == "evil\x1b[7m.service"


def test_ancestry_not_asked_for_is_none(procfs):
    assert read_process(procfs, 1310).ancestry is None


def test_cache_reads_each_parent_once_and_fills_ancestry_later(procfs):
    cache = {}
    bash = read_process(procfs, 1205, cache=cache)
    assert bash.ancestry is None
    py = read_process(procfs, 1310, ancestry=True, cache=cache)
    assert read_process(procfs, 1205, cache=cache) is bash  # same record, not read again
    assert bash.ancestry == py.ancestry[1:]  # filled on the way up
    assert set(cache) == {(1310, 95122), (1205, 90230), (1204, 90211), (801, 412), (1, 1)}


def test_read_processes_one_record_per_pid(procfs):
    cache = {}
    got = read_processes(procfs, [801, 801, 1310, 2050], ancestry=True, cache=cache)
    assert sorted(got) == [801, 1310, 2050]
    assert got[801] is cache[(801, 412)]


def test_reused_pid_or_exec_is_read_again(tmp_path):
    root = tmp_path / "proc"
    shutil.copytree(TREE, root, symlinks=True)
    procfs = ProcFS(str(root))
    cache = {}
    first = read_process(procfs, 801, cache=cache)
    assert read_process(procfs, 801, cache=cache) is first
    stat = (root / "801" / "stat").read_text()
    # The same PID with a later start time: another process.
    (root / "801" / "stat").write_text(stat.replace(" 412 ", " 9999 "))
    second = read_process(procfs, 801, cache=cache)
    assert second is not first and second.start_time == 9999
    # Same start time, new name: the process ran exec, so its exe and argv are read again.
    (root / "801" / "stat").write_text(stat.replace("(sshd)", "(sshd-new)"))
    (root / "801" / "exe").unlink()
    (root / "801" / "exe").symlink_to("/usr/sbin/sshd-new")
    third = read_process(procfs, 801, cache=cache)
    assert third is not first and third.exe == "/usr/sbin/sshd-new"


def test_unparsable_file_is_reported_not_raised(tmp_path):
    root = tmp_path / "proc"
    shutil.copytree(TREE, root, symlinks=True)
    (root / "801" / "cgroup").write_text("garbage\n")
    info = read_process(ProcFS(str(root)), 801)
    assert info.unreadable == f"unparsable {root}/801/cgroup"
    (root / "801" / "stat").write_text("garbage\n")
    assert read_process(ProcFS(str(root)), 801).unreadable == f"unparsable {root}/801/stat"
