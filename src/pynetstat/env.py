"""The environment a run sees, passed in rather than reached for (streams, clock, /proc, netlink).

``Environment.from_process()`` builds the real one; tests build their own, with StringIO streams,
a recorded /proc tree (``PYNETSTAT_PROC_ROOT`` does the same from outside) or a replayed netlink
directory (``PYNETSTAT_NETLINK_REPLAY``), and a fake clock.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TextIO


class Environment:
    __slots__ = ("stdout", "stderr", "environ", "proc_root", "netlink_factory", "monotonic",
                 "sleep", "wall_clock", "stdout_isatty")

    def __init__(self, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str] | None = None,
                 proc_root: str | None = None, netlink_factory: Callable[[], object] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 wall_clock: Callable[[], float] = time.time,
                 stdout_isatty: bool | None = None):
        self.stdout = stdout
        self.stderr = stderr
        self.environ = dict(os.environ) if environ is None else dict(environ)
        self.proc_root = proc_root or self.environ.get("PYNETSTAT_PROC_ROOT") or "/proc"
        self.netlink_factory = netlink_factory or _default_netlink_factory(self.environ)
        self.monotonic = monotonic
        self.sleep = sleep
        self.wall_clock = wall_clock
        if stdout_isatty is None:
            try:
                stdout_isatty = stdout.isatty()
            except (AttributeError, ValueError, OSError):
                stdout_isatty = False
        self.stdout_isatty = stdout_isatty

    @classmethod
    def from_process(cls) -> Environment:
        return cls(sys.stdout, sys.stderr)

    @property
    def color(self) -> bool:
        """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
        return self.stdout_isatty and not self.environ.get("NO_COLOR")


def _default_netlink_factory(environ: Mapping[str, str]) -> Callable[[], object]:
    replay = environ.get("PYNETSTAT_NETLINK_REPLAY")
    if replay:
        def replayed():
            from pynetstat.linux.netlink import ReplayNetlink

            return ReplayNetlink(replay)
        return replayed

    def live():
        from pynetstat.linux.netlink import LiveNetlink

        return LiveNetlink()
    return live
