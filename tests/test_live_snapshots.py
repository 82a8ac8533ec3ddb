"""Snapshots of the live view's screens (issue 20) for a recorded kernel state, with
pytest-textual-snapshot: the connection table, the detail panel, the counters screen and the
routes screen, each compared with the SVG under tests/__snapshots__/test_live_snapshots/.

The scene is made of recordings only, so every run draws the same screen: the sockets of
tests/fixtures/linux/conn-extensions (its sock_diag dumps and /proc/net files), the links,
routes and counters of stats-host, and the processes of proc-tree, to which the test gives file
descriptors naming the recorded sockets' inodes (sshd holds the listener and its connection, the
process whose name is hostile its peer, nginx the other pair). The detail panel's question about
one socket is answered with that socket's message in conn-extensions's dump with every
extension (its tcp_info, timer, congestion control), found by the cookie asked for. Names are
numeric (-n) and the interval is a minute, so that the screen shot is of the first reading; the
marks' snapshots then refresh (r) once from a second recording: conn-extensions's IPv4 TCP
sockets again (steady), its IPv6 ones gone (red, -), conn-normal's IPv6 and UDP sockets come
(green, +), in colour and under NO_COLOR.

When a screen changes on purpose: ``pytest tests/test_live_snapshots.py --snapshot-update``,
then look at the SVGs (the report's HTML shows the difference of a failing one). The SVGs are
Textual's drawing: the test extra pins the Textual they were made with.
"""

from __future__ import annotations

import io
import os
import shutil
import struct

import pytest

pytest.importorskip("textual")
pytest.importorskip("pytest_textual_snapshot")

from golden_outputs import LINUX  # noqa: E402

from pynetstat.cli import parse_args  # noqa: E402
from pynetstat.env import Environment  # noqa: E402
from pynetstat.linux.diagreq import decode_message  # noqa: E402
from pynetstat.linux.netlink import (  # noqa: E402
    NLMSG_DONE,
    NLMSGHDR,
    DumpStats,
    ReplayNetlink,
    Reply,
    iter_dump,
    read_recording,
)
from pynetstat.modes.live.app import Detail, LiveApp  # noqa: E402
from pynetstat.modes.live.collector import Collector  # noqa: E402

SOCKETS, SECTIONS, PROCESSES = (os.path.join(LINUX, name) for name in
                                ("conn-extensions", "stats-host", "proc-tree"))
# pid -> the inodes of conn-extensions's sockets it holds (an fd each)
HOLDERS = {801: (1076610, 1076612), 5000: (1076611,), 2050: (1076616, 1076618)}
SIZE = (110, 24)


class Scene(ReplayNetlink):
    """The recordings; a question about one socket (``sock_diag-one-*``) is answered with that
    socket's message in the dump with every extension, then NLMSG_DONE."""

    def dump(self, request):
        if not request.key.startswith("sock_diag-one-"):
            return super().dump(request)
        lo, hi = struct.unpack_from("=II", request.payload, len(request.payload) - 8)
        family = "6" if request.payload[0] == 10 else ""
        with open(os.path.join(SOCKETS, "netlink", f"sock_diag-tcp{family}-ext.nl"), "rb") as f:
            seq, chunks = read_recording(f.read())
        for chunk, _type, off, length in iter_dump(Reply(seq, iter(chunks)), DumpStats(), "ext"):
            message = decode_message(chunk, off, length)
            if message is not None and message.cookie == hi << 32 | lo:
                done = NLMSGHDR.pack(20, NLMSG_DONE, 2, seq, 0) + b"\0" * 4
                return Reply(seq, iter([bytes(chunk[off - 16:off + length]), done]))
        raise AssertionError(f"no recorded socket with cookie {hi << 32 | lo}")


@pytest.fixture
def scene(tmp_path, monkeypatch):
    """(proc root, netlink directory) of the recorded scene, and beside the latter
    ``netlink-after``, the second recording; colours on (Textual reads NO_COLOR from the
    process's environment)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    netlink = tmp_path / "netlink"
    after = tmp_path / "netlink-after"
    net = tmp_path / "proc" / "net"
    netlink.mkdir()
    after.mkdir()
    net.mkdir(parents=True)
    for base in (SOCKETS, SECTIONS):
        for name in os.listdir(os.path.join(base, "netlink")):
            (netlink / name).symlink_to(os.path.join(base, "netlink", name))
        for name in os.listdir(os.path.join(base, "proc", "net")):
            (net / name).symlink_to(os.path.join(base, "proc", "net", name))
    for name in os.listdir(netlink):
        changed = name in ("sock_diag-tcp6.nl", "sock_diag-udp.nl", "sock_diag-udp6.nl")
        source = os.path.join(LINUX, "conn-normal", "netlink", name) if changed else netlink / name
        (after / name).symlink_to(source)
    for pid in os.listdir(PROCESSES):
        if pid.isdigit():
            shutil.copytree(os.path.join(PROCESSES, pid), tmp_path / "proc" / pid, symlinks=True)
            with open(tmp_path / "proc" / pid / "stat", "rb") as f:
                comm = f.read().partition(b"(")[2].rpartition(b")")[0]
            (tmp_path / "proc" / pid / "comm").write_bytes(comm + b"\n")
            (tmp_path / "proc" / pid / "fd").mkdir()
    for pid, inodes in HOLDERS.items():
        for fd, inode in enumerate(inodes, 3):
            (tmp_path / "proc" / str(pid) / "fd" / str(fd)).symlink_to(f"socket:[{inode}]")
    return str(tmp_path / "proc"), str(netlink)


def scene_app(scene, argv: list[str]) -> LiveApp:
    """The app over the scene; ``app.kernel``: its netlink source, once made."""
    proc, netlink = scene
    made: list[Scene] = []

    def kernel() -> Scene:
        made.append(Scene(netlink))
        return made[-1]
    env = Environment(io.StringIO(), io.StringIO(), environ={}, proc_root=proc,
                      netlink_factory=kernel)
    app = LiveApp(Collector(parse_args(["--live", "-n", *argv]), env), 60.0)
    app.kernel = made[0]
    return app


@pytest.fixture
def shot(scene, snap_compare):
    """``shot(argv, *keys, until=None, size=SIZE)``: the app over the scene, after its first
    reading, the keys pressed and ``until(app)`` true, compared with its snapshot."""
    def take(argv: list[str], *keys: str, until=None, size=SIZE) -> bool:
        app = scene_app(scene, argv)

        async def run_before(pilot):
            while app.readings < 1:
                await pilot.pause(0.05)
            for key in keys:
                if key == "second-reading":  # the second recording, read now
                    app.kernel.directory += "-after"
                    key = "r"
                await pilot.press(key)
            while until is not None and not until(app):
                await pilot.pause(0.05)
        try:
            return snap_compare(app, run_before=run_before, terminal_size=size)
        finally:
            app.collector.shutdown()
    return take


def test_connection_table(shot):
    assert shot(["-a"], "4")  # by State


def test_detail_panel(shot):
    # the third row: sshd's connection 43847 <- 34492 (uid 0: a user name every host has)
    assert shot(["-a"], "down", "down", "enter", until=lambda app: isinstance(app.screen, Detail),
                size=(110, 40))


def test_counters_screen(shot):
    assert shot(["-s", "-p", "udp"])


def test_routes_screen(shot):
    assert shot(["-r"])


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
def test_marks_of_a_second_reading(shot, monkeypatch, no_color):
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    assert shot(["-a"], "second-reading", until=lambda app: app.readings >= 2)
