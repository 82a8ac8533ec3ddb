"""The other kinds against the live kernel: UNIX, packet, RAW and ping sockets made by the test
in a network namespace of its own (tests/fixtures/other_scene.py), decoded from sock_diag and
parsed from /proc, and checked against the socket API's account of them and against ss.

Everything runs in one forked child that leaves the test's network namespace (so the dumps
hold exactly the scene's sockets), and comes back as plain data.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from other_checks import CHECKS
from other_scene import collect, prepare_namespace

sys.path.insert(0, os.path.dirname(__file__))
from attack.sandbox import CLONE_NEWNET, in_child, unshare  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("ss"),
    reason="needs root, ip and ss (network namespaces, packet and raw sockets)")]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("otherkinds"))

    def run():
        from pynetstat.linux.netlink import LiveNetlink

        prepare_namespace()
        source = LiveNetlink()
        try:
            return collect(source, workdir)
        finally:
            source.close()

    return in_child(run, setup=lambda: unshare(CLONE_NEWNET))


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_live(live, check):
    check(live)
