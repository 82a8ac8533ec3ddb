"""hidepid is decided from /proc's mount options (issue 21 item 13): the mountinfo of a forged
/proc tree says how "its" proc is mounted, and only the mount on top at that point counts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from pynetstat.linux.fdscan import hidepid

from .kernel import FakeProc


@pytest.fixture
def tree():
    d = tempfile.mkdtemp(prefix="pynetstat hidepid ")  # a space: mountinfo escapes it
    yield FakeProc(Path(d) / "proc")
    shutil.rmtree(d, ignore_errors=True)


def mountinfo(tree: FakeProc, *options: str) -> None:
    """One proc mount per option at the tree's root, in mount order (the last one on top)."""
    point = os.path.realpath(tree.root).replace(" ", "\\040")
    lines = ["22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw"]
    lines += [f"{30 + i} {22 if i == 0 else 29 + i} 0:{40 + i} / {point} rw,nosuid - proc proc "
              f"rw,{option}" for i, option in enumerate(options)]
    tree.write("self/mountinfo", "\n".join(lines) + "\n")


@pytest.mark.parametrize("option,said", [("hidepid=1", "hidepid=1"),
                                         ("hidepid=noaccess", "hidepid=noaccess"),
                                         ("hidepid=2", "hidepid=2"),
                                         ("hidepid=invisible", "hidepid=invisible"),
                                         ("hidepid=0", None), ("hidepid=off", None),
                                         ("subset=pid", None)])
def test_mount_options_decide(tree, option, said):
    mountinfo(tree, option)
    assert hidepid(str(tree.root)) == said


def test_the_mount_on_top_decides(tree):
    mountinfo(tree, "hidepid=noaccess", "hidepid=off")
    assert hidepid(str(tree.root)) is None
    mountinfo(tree, "hidepid=off", "hidepid=invisible")
    assert hidepid(str(tree.root)) == "hidepid=invisible"


def test_no_mountinfo(tree):
    assert hidepid(str(tree.root)) is None
