"""/proc mounted with ``subset=pid`` (issue 21 item 14): there is no /proc/net, but /proc/self/net
is there and shows the same files. The /proc fallback reads it; -s with no counter file at all
names the missing files instead of blaming the kernel. Trees copied from a recorded kernel."""

from __future__ import annotations

import os
import shutil

from helpers import run_inprocess

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "linux")


def subset_pid_tree(tmp_path, scenario: str) -> str:
    """A /proc whose net/ lives only under self/ (as subset=pid leaves it)."""
    root = tmp_path / "proc"
    (root / "self").mkdir(parents=True)
    shutil.copytree(os.path.join(FIXTURES, scenario, "proc", "net"), root / "self" / "net")
    return str(root)


def test_the_fallback_reads_self_net_when_there_is_no_proc_net(tmp_path):
    root = subset_pid_tree(tmp_path, "conn-normal")
    want = run_inprocess(["-an"], proc_root=os.path.join(FIXTURES, "conn-normal", "proc"),
                         environ={"PYNETSTAT_NETLINK_REPLAY": str(tmp_path / "none")})
    got = run_inprocess(["-an"], proc_root=root,
                        environ={"PYNETSTAT_NETLINK_REPLAY": str(tmp_path / "none")})
    assert got.status == 0
    assert got.stdout == want.stdout and "LISTENING" in got.stdout


def test_statistics_from_self_net(tmp_path):
    root = subset_pid_tree(tmp_path, "stats-host")
    got = run_inprocess(["-s", "-p", "ip"], proc_root=root, environ={})
    assert got.status == 0 and "Packets Received" in got.stdout, got.stdout
    assert "Not available" not in got.stdout


def test_no_counter_file_at_all_names_the_files_not_the_kernel(tmp_path):
    root = tmp_path / "proc"
    root.mkdir()
    got = run_inprocess(["-s", "-p", "ip"], proc_root=str(root), environ={})
    assert "this kernel has no" not in got.stdout, got.stdout
    assert f"{root}/net/snmp" in got.stdout and "not found" in got.stdout
