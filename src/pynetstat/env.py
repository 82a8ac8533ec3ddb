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

    from pynetstat.errors import OutputError
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.model.netns import NetNamespace


class Environment:
    __slots__ = ("stdout", "stderr", "stdin", "environ", "proc_root", "netlink_factory", "monotonic",
                 "sleep", "wall_clock", "stdout_isatty", "net_root", "net_reader", "netns")

    def __init__(self, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str] | None = None,
                 proc_root: str | None = None, netlink_factory: Callable[[], NetlinkSource] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 wall_clock: Callable[[], float] = time.time,
                 stdout_isatty: bool | None = None, stdin: TextIO | None = None):
        self.stdout = stdout
        self.stderr = stderr
        # where an answer is read (--close's confirmation); None: nobody to ask, the answer is no
        self.stdin = stdin
        self.environ = dict(os.environ) if environ is None else dict(environ)
        self.proc_root = proc_root or self.environ.get("PYNETSTAT_PROC_ROOT") or "/proc"
        self.netlink_factory = netlink_factory  # None: the kernel's (session.netlink_source)
        self.monotonic = monotonic
        self.sleep = sleep
        self.wall_clock = wall_clock
        if stdout_isatty is None:
            try:
                stdout_isatty = stdout.isatty()
            except (AttributeError, ValueError, OSError):
                stdout_isatty = False
        self.stdout_isatty = stdout_isatty
        # --netns (modes/netns.py): where /proc's net/ files of that namespace are read, a
        # /proc/PID of a process in it (None: proc_root's own); or ``net_reader(path) -> bytes``,
        # which reads such a file from inside the namespace (one that no process is in).
        self.net_root: str | None = None
        self.net_reader: Callable[[str], bytes] | None = None
        self.netns: NetNamespace | None = None  # that namespace's model.netns.NetNamespace: JSON rows name it

    def replaced(self, **changes: object) -> Environment:
        """A copy with some slots changed (``--netns``: another netlink source and net/ root)."""
        copy = object.__new__(Environment)
        for name in self.__slots__:
            setattr(copy, name, changes.get(name, getattr(self, name)))
        return copy

    @classmethod
    def from_process(cls) -> Environment:
        # Output keeps the part of TextIO that pynetstat uses (write, flush, isatty, fileno)
        return cls(Output(sys.stdout, "standard output"),  # type: ignore[arg-type]
                   Output(sys.stderr, "standard error"),  # type: ignore[arg-type]
                   stdin=sys.stdin)

    @property
    def color(self) -> bool:
        """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
        return self.stdout_isatty and not self.environ.get("NO_COLOR")


class Output:
    """One of the process's streams as pynetstat writes to it. A write or flush that fails (ENOSPC
    on /dev/full or a full disk, EBADF on a closed descriptor) raises ``OutputError``, which
    ``cli.main`` says in one line (exit 1); ``failed`` remembers it, so that the interpreter's
    last flush is not tried again. BrokenPipeError goes through: the reader left (a quiet 141).

    A stream whose encoding cannot carry every character (ASCII in the C locale,
    ``PYTHONIOENCODING=latin-1``) writes such a character as its escape (``textsafe``)."""

    __slots__ = ("stream", "name", "failed")

    def __init__(self, stream: TextIO | None, name: str):
        self.stream: TextIO | _Closed
        if stream is None:  # the descriptor was closed before Python started
            self.stream = _Closed()
        else:
            encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
            if encoding not in ("utf-8", "utf8") and hasattr(stream, "reconfigure"):
                import codecs

                from pynetstat.textsafe import escape_unencodable

                codecs.register_error("pynetstat-escape", escape_unencodable)
                stream.reconfigure(errors="pynetstat-escape")
            self.stream = stream
        self.name = name
        self.failed = False

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise self._failure(e) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise self._failure(e) from None

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def _failure(self, error: OSError) -> OutputError:
        from pynetstat.errors import OutputError

        self.failed = True
        return OutputError(self.name, error)


class _Closed:
    """The stand-in for a stream whose descriptor was closed: every write fails as write(2) on a
    closed descriptor does."""

    def write(self, text: str) -> int:
        import errno

        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def flush(self) -> None:
        """Nothing was written."""

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(9, os.strerror(9))
