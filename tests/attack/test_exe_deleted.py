"""Issue 21 item 7: ``exe_deleted`` is decided from the file, not from the text of the link.
An executable whose file name is ``x (deleted)`` exists; one that was unlinked is deleted, even
when its name also ends in `` (deleted)``. Real processes running copies of sleep(1)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pynetstat.linux.process import read_process
from pynetstat.linux.procfs import ProcFS
from pynetstat.render.owners import owner_json, owner_lines

SLEEP = shutil.which("sleep")
pytestmark = pytest.mark.skipif(SLEEP is None, reason="needs sleep(1)")


@pytest.fixture
def running(tmp_path):
    """``running(name, delete)``: start a copy of sleep named ``name``, unlinked if ``delete``."""
    children = []

    def start(name: str, delete: bool):
        path = tmp_path / name
        shutil.copy(SLEEP, path)
        os.chmod(path, 0o755)
        child = subprocess.Popen([str(path), "60"])
        children.append(child)
        for _ in range(200):  # until exec has replaced the forked Python
            if os.readlink(f"/proc/{child.pid}/exe").startswith(str(path)):
                break
            os.sched_yield()
        if delete:
            path.unlink()
        return child.pid, str(path)

    yield start
    for child in children:
        child.kill()
        child.wait()


def test_a_file_named_deleted_that_exists_is_not_deleted(running):
    pid, path = running("x (deleted)", delete=False)
    info = read_process(ProcFS("/proc"), pid)
    assert (info.exe, info.exe_deleted) == (path, False)
    assert owner_json(info)["exe_deleted"] is False
    assert owner_lines([info], verbose=False)[-1] == " [x (deleted)]"


def test_a_deleted_file_is_deleted(running):
    pid, path = running("y", delete=True)
    info = read_process(ProcFS("/proc"), pid)
    assert (info.exe, info.exe_deleted) == (path, True)


def test_a_deleted_file_named_deleted_keeps_its_name(running):
    pid, path = running("z (deleted)", delete=True)
    info = read_process(ProcFS("/proc"), pid)
    assert (info.exe, info.exe_deleted) == (path, True)
    assert owner_lines([info], verbose=False)[-1] == " [z (deleted) (deleted)]"
