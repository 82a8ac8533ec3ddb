"""The error family. Code inside raises these; ``cli.main`` alone turns them into a line on stderr.

Exit statuses are plain ints in a namespace class rather than an IntEnum: ``enum`` costs about
4 ms of import time, a fifth of the whole start-up budget of a plain ``-an``.
"""

from __future__ import annotations


class Exit:
    OK = 0
    FAILURE = 1  # the kernel could not be read at all
    USAGE = 2  # bad flag, protocol or interval
    INTERRUPTED = 130  # SIGINT (128 + 2), as shells report it
    BROKEN_PIPE = 141  # stdout closed by the reader (128 + SIGPIPE), e.g. `| head`
    TERMINATED = 143  # SIGTERM (128 + 15)


class PynetstatError(Exception):
    """Base of every error pynetstat raises on purpose."""

    exit_status = Exit.FAILURE


class UsageError(PynetstatError):
    """The command line is wrong; the message says how. ``usage``: print the usage line after it
    (not after a filter's bad value: its message says what is accepted)."""

    exit_status = Exit.USAGE
    usage = True


class InputError(UsageError):
    """A file named on the command line is not what it should be (``--diff FILE``: unreadable,
    not JSON, another format or version). Exit 2 like a usage error, but one line: the usage
    line would not help."""

    usage = False


class ServeError(InputError):
    """--serve cannot serve: the exporter extra is not installed, or the address cannot be bound
    (in use, not on this machine). Exit 2, one line."""


class OutputError(PynetstatError):
    """What was written could not be: stdout on a full disk or /dev/full, a closed stream."""

    def __init__(self, stream: str, error: OSError):
        self.stream = stream
        super().__init__(f"cannot write to {stream}: {error.strerror or error}")


class ParseError(PynetstatError):
    """A malformed line or record in a kernel file, named by path and line number."""

    def __init__(self, path: str, line_no: int, line: str | bytes, why: str = "malformed line"):
        self.path = path
        self.line_no = line_no
        self.line = line
        self.why = why
        super().__init__(f"{path}:{line_no}: {why}: {line!r}")


class CloseRefused(PynetstatError):
    """The kernel will not close a socket for us (``--close``, the live view's close key): it lacks
    CONFIG_INET_DIAG_DESTROY, or we lack CAP_NET_ADMIN. Said in one line; nothing else is tried."""


class BackendUnavailable(PynetstatError):
    """A source (a netlink family, a /proc file) cannot be used here; callers fall back."""


class NetlinkError(BackendUnavailable):
    """The kernel answered a netlink request with an error code (NLMSG_ERROR or NLMSG_DONE)."""

    def __init__(self, errno_: int, what: str):
        import os

        self.errno = errno_
        self.what = what
        try:
            text = os.strerror(errno_)
        except (ValueError, OverflowError):  # the kernel's int, negated: -INT_MIN fits no C int
            text = "unknown error"
        super().__init__(f"{what}: {text} (errno {errno_})")
