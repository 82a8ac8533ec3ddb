"""What the owner scan counts as vanished is what vanished (issue 21 item 15, first part).

Listing our own fd table opens a descriptor of it (``os.listdir`` dups the directory fd), which
the listing shows and which is closed by the time its link is read: that is the scan's own fd,
not one that went away. In a PID namespace of its own (nothing else runs there, nothing exits
mid-scan), a scan must count nothing as vanished, one-shot and in interval mode.
"""

from __future__ import annotations

import json
import shutil

import pytest

from .check import parse_json_lines, run_subprocess

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--net"]

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare(1)")]


def test_one_shot_scan_vanishes_nothing():
    result = run_subprocess(["-ano", "--json"], prefix=UNSHARE)
    assert result.status == 0, result
    scan = json.loads(result.out)["owner_scan"]
    assert scan["processes"] >= 1, scan  # pynetstat itself (and unshare's child)
    assert scan["vanished"] == 0, scan
    assert scan["denied"] == 0 and scan["fds_unreadable"] == 0, scan


def test_interval_walk_vanishes_nothing():
    """The interval cache's first pass walks /proc the same way (linux/owner_cache.py)."""
    result = run_subprocess(["-ano", "--json", "0.01"], prefix=["timeout", "-s", "INT", "2", *UNSHARE])
    docs = parse_json_lines(result.out)
    assert docs, result
    scan = docs[0]["owner_scan"]
    assert scan["processes"] >= 1 and scan["vanished"] == 0, scan
