"""/proc access through one object whose root is a parameter, so a recorded tree replays as /proc.

Parsers here are pure: they take text and yield records. The reader only opens files.
"""

from __future__ import annotations

import errno
import os
import sys
from stat import S_ISDIR, S_ISREG

from pynetstat.errors import ParseError
from pynetstat.model.sockets import InetSocket, owner_uid

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pynetstat.env import Environment


# The kernel prints /proc/net/{tcp,udp}[6] addresses as host-order words: the files are read on
# the machine that wrote them, so in this host's order.
HOST_BYTEORDER = sys.byteorder


class ProcFS:
    """Reads files below ``root`` (``/proc`` by default). Errors are ``OSError`` as the OS gives them.
    ``byteorder``: that of the machine whose kernel wrote the files (this host's by default)."""

    __slots__ = ("root", "byteorder", "_net", "net_reader")

    def __init__(self, root: str = "/proc", byteorder: str | None = None, *,
                 net: str | None = None, net_reader: Callable[[str], bytes] | None = None):
        self.root = root.rstrip("/") or "/"
        self.byteorder = byteorder or HOST_BYTEORDER
        # Where net/ files are read from, decided on first use; ``net``: given (``--netns``:
        # /proc/PID of a process in that namespace). ``net_reader(rel) -> bytes``: reads a net/
        # file from inside a namespace that no process is in (linux/nsenter.py).
        self._net: str | None = net
        self.net_reader = net_reader

    def path(self, rel: str) -> str:
        if rel.startswith("net/"):
            return f"{self.net_root()}/{rel}"
        return f"{self.root}/{rel}"

    def net_root(self) -> str:
        """The directory holding ``net/``: the root itself, or ``root/self`` where /proc is
        mounted with ``subset=pid`` (no /proc/net, but every process's own /proc/PID/net, which
        shows the reader's network namespace: the same files)."""
        if self._net is None:
            self._net = self.root
            if not os.path.isdir(f"{self.root}/net") and os.path.isdir(f"{self.root}/self/net"):
                self._net = f"{self.root}/self"
        return self._net

    def read_bytes(self, rel: str) -> bytes:
        if self.net_reader is not None and rel.startswith("net/"):
            return self.net_reader(rel)
        return read_file(self.path(rel))

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("ascii", "replace")

    def listdir(self, rel: str = "") -> list[str]:
        return os.listdir(self.path(rel) if rel else self.root)

    def readlink(self, rel: str) -> str:
        # As bytes, decoded as UTF-8 like every name (docs/escaping.md): the same in any locale
        # (in the C locale Python would decode it as ASCII, each byte past 0x7f an escape).
        return os.readlink(os.fsencode(self.path(rel))).decode("utf-8", "surrogateescape")


def procfs_of(env: Environment) -> ProcFS:
    """The ProcFS of a run's ``env.Environment``: its /proc root, and with ``--netns`` the
    namespace's net/ files."""
    return ProcFS(env.proc_root, net=env.net_root, net_reader=env.net_reader)


_O_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK


def read_file(path: str) -> bytes:
    """The whole of one file, which must be a regular file, as every /proc file is.

    A tree given as the root (``PYNETSTAT_PROC_ROOT``, a copy taken from a suspect machine) may
    hold a FIFO, whose ``open`` would wait for a writer forever, or a device that never ends:
    O_NONBLOCK keeps the ``open`` from waiting (it changes nothing for a regular file), and
    anything but a regular file raises ``OSError`` like a file that cannot be read.
    """
    fd = os.open(path, _O_READ)
    with open(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not S_ISREG(mode):
            if S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            raise OSError(errno.EINVAL, "not a regular file", path)
        return f.read()


# --- /proc/net/{tcp,tcp6,udp,udp6}: the fallback when sock_diag is missing -----------------------

def decode_address(field: str, byteorder: str = "little") -> tuple[str, int]:
    """One ``ADDR:PORT`` field of /proc/net/tcp[6] to ``(address, port)``.

    The address is the kernel's ``__be32`` words printed as host-order integers, so on a
    little-endian machine every 4-byte word reads reversed::

        "0100007F:0016" -> ("127.0.0.1", 22)
        "00000000000000000000000001000000:0035" -> ("::1", 53)

    ``byteorder`` is that of the machine the file was written on.
    """
    from _socket import AF_INET, AF_INET6, inet_ntop

    hexaddr, _, hexport = field.partition(":")
    raw = bytes.fromhex(hexaddr)
    if len(raw) not in (4, 16) or len(hexport) != 4:
        raise ValueError(f"bad address field {field!r}")
    if byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return inet_ntop(AF_INET if len(raw) == 4 else AF_INET6, raw), hex_field(hexport)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def hex_field(field: str) -> int:
    """A field the kernel prints with ``%X``. ``int(field, 16)`` alone also takes ``-1``, ``+1``,
    ``0x1`` and ``1_0``, which no kernel prints: a negative state once ended the listing."""
    if not field or not _HEX_DIGITS.issuperset(field):
        raise ValueError(f"not a hexadecimal field: {field!r}")
    return int(field, 16)


def dec_field(field: str) -> int:
    """A field the kernel prints with ``%u``/``%lu``: ASCII digits only (not ``-5``, ``²``)."""
    if not (field.isascii() and field.isdigit()):
        raise ValueError(f"not a decimal field: {field!r}")
    return int(field)


def parse_inet_line(line: str, proto: str, family: int, byteorder: str = "little") -> InetSocket:
    """One data line of /proc/net/{tcp,udp}[6]; ``ValueError``/``IndexError`` when malformed.

    ``"0: 0100007F:0016 00000000:0000 0A 00000000:00000001 00:00000000 00000000 0 0 1065 ..."``
    is a TCP listener on 127.0.0.1:22 (state 0x0A), tx queue 0, rx queue 1, uid 0, inode 1065.
    """
    f = line.split()
    if len(f) < 10 or not f[0].endswith(":"):
        raise ValueError("too few fields")
    local, lport = decode_address(f[1], byteorder)
    remote, rport = decode_address(f[2], byteorder)
    txq, _, rxq = f[4].partition(":")
    want = 4 if family == 4 else 16
    if len(f[1].partition(":")[0]) != want * 2 or len(f[2].partition(":")[0]) != want * 2:
        raise ValueError(f"address of the wrong family for {proto}{family}")
    state = hex_field(f[3])
    if state > 0xFF:  # sk_state is a u8, printed %02X
        raise ValueError(f"not a socket state: {f[3]!r}")
    inode = dec_field(f[9])
    return InetSocket(proto=proto, family=family, state=state, local_address=local,
                      local_port=lport, remote_address=remote, remote_port=rport, scope=0,
                      inode=inode, uid=owner_uid(state, inode, dec_field(f[7])), cookie=None,
                      recv_q=hex_field(rxq), send_q=hex_field(txq))


def parse_inet_file(text: str, path: str, proto: str, family: int, errors: list[ParseError],
                    byteorder: str = "little") -> Iterator[InetSocket]:
    """Every socket of one /proc/net/{tcp,udp}[6] file; malformed lines become ``ParseError`` in ``errors``."""
    lines = text.splitlines()
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            yield parse_inet_line(line, proto, family, byteorder)
        except (ValueError, IndexError) as e:
            errors.append(ParseError(path, no, line, str(e)))
