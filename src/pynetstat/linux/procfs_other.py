"""The /proc fallbacks of the other kinds: /proc/net/unix, packet, raw, raw6, icmp, icmp6.

Parsers are pure: they take a file's contents and give the records of ``diagrecords``, each
with ``verified=False`` (text that other users can put words into, see ``parse_unix``). A
malformed line is a ``ParseError`` naming the file, the line number and the line: raised, or,
when the caller passes an ``errors`` list, appended there while parsing goes on.
"""

from __future__ import annotations

import re

from pynetstat.errors import ParseError
from pynetstat.linux.diagrecords import PacketSocket, PingSocket, RawSocket, UnixSocket
from pynetstat.linux.procfs import dec_field, decode_address, hex_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    Record = TypeVar("Record")
    # the fields a raw or ping line shares with /proc/net/udp (_inet_fields)
    InetFields = tuple[str, int, str, int, int, int, int, int, int]

# af_unix.c unix_seq_show: "%pK: %08X %08X %08X %04X %02X %5lu", then " " and the name when
# bound, then "\n". Fields: refcount, protocol (always 0), flags, type, socket state, inode.
_UNIX_LINE = re.compile(
    rb"([0-9a-f]+): ([0-9A-F]{8}) ([0-9A-F]{8}) ([0-9A-F]{8}) ([0-9A-F]{4}) ([0-9A-F]{2}) +"
    rb"([0-9]+)(?: (.*))?", re.DOTALL)
_SO_ACCEPTCON = 1 << 16  # include/linux/net.h: the listening flag
# include/uapi/linux/net.h socket_state -> the sk_state unix_diag would give
# (unix_seq_show prints SS_CONNECTED/UNCONNECTED for a socket with a file, and
# SS_CONNECTING/DISCONNECTING for one without: a connection not yet accepted)
_SS_TO_SK_STATE = {1: 7, 2: 1, 3: 1, 4: 7}
_TCP_LISTEN = 10


def _fail(path: str, no: int, line: str | bytes, why: str, errors: list[ParseError] | None
          ) -> None:
    error = ParseError(path, no, line, why)
    if errors is None:
        raise error
    errors.append(error)


def parse_unix_line(line: bytes) -> UnixSocket:
    """One data line of /proc/net/unix (no newline); ``ValueError`` when it is not one.

    ``b"000000001b2c3d4e: 00000002 00000000 00010000 0001 01 21925 /run/dbus/sock"`` is a
    listening (flag 0x10000) stream socket (type 1), inode 21925, bound to /run/dbus/sock;
    ``b"... 0002 01 21930 @pnst"`` a datagram socket named ``@pnst``. The kernel prints an
    abstract name with ``@`` for its leading NUL, so a path that starts with ``@`` looks the
    same: ``name`` keeps the text as printed and ``abstract`` is None for every name that starts
    with ``@`` (False for the rest). ``NUL`` bytes inside an abstract name are printed as ``@``.
    """
    m = _UNIX_LINE.fullmatch(line)
    if m is None:
        raise ValueError("not a /proc/net/unix line")
    flags = int(m.group(4), 16)
    state = _TCP_LISTEN if flags & _SO_ACCEPTCON else _SS_TO_SK_STATE.get(int(m.group(6), 16))
    if state is None:
        raise ValueError(f"unknown socket state {m.group(6)!r}")
    name = m.group(8)
    return UnixSocket(type=int(m.group(5), 16), state=state, inode=int(m.group(7)), name=name,
                      abstract=None if name is None else (None if name[:1] == b"@" else False),
                      verified=False)


def parse_unix(data: bytes, path: str = "/proc/net/unix", errors: list[ParseError] | None = None
               ) -> list[UnixSocket]:
    """Every socket of /proc/net/unix.

    The kernel prints names raw, newlines included. A line that is not a socket line and
    follows a socket that has a name is the rest of that name (joined back with ``\\n``); one
    that follows no name is malformed. But a name can also carry a whole line that parses:
    any user may bind an abstract name ``"x\\n<pointer>: ... <inode of a root socket> /fake"``,
    and the fake line reads like the real one. Such a forgery either names an inode that another
    line names too, and then every line of that inode gets ``duplicate=True`` (neither can be
    believed), or an inode of its own, which nothing here can tell from a real one: hence
    ``verified=False`` on every row of this file, and names that are data, never markup.
    Inode 0 (connections not yet accepted) is never a duplicate.
    """
    rows: list[UnixSocket] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    for no, line in enumerate(lines[1:], start=2):
        try:
            rows.append(parse_unix_line(line))
        except ValueError as e:
            if rows and rows[-1].name is not None and not _UNIX_LINE.match(line):
                rows[-1].name += b"\n" + line
            else:
                _fail(path, no, line, str(e), errors)
    seen: dict[int, int] = {}
    for row in rows:
        seen[row.inode] = seen.get(row.inode, 0) + 1
    for row in rows:
        if row.inode and seen[row.inode] > 1:
            row.duplicate = True
    return rows


def parse_packet_line(line: str) -> PacketSocket:
    """One data line of /proc/net/packet; ``ValueError``/``IndexError`` when malformed.

    ``"ffff8a0c 3      3    0003   2     1 0      0      31137"``: a SOCK_RAW (3) socket for
    ETH_P_ALL (0003, printed in host order), bound to ifindex 2, running, nothing queued, uid 0,
    inode 31137 (af_packet.c packet_seq_show: ``%pK %-6d %-4d %04x %-5d %1d %-6u %-6u %-8lu``).
    """
    f = line.split()
    if len(f) != 9:
        raise ValueError(f"{len(f)} fields, not 9")
    hex_field(f[0])
    running = dec_field(f[5])
    if running > 1:
        raise ValueError(f"running flag {f[5]!r}")
    return PacketSocket(type=dec_field(f[2]), protocol=hex_field(f[3]), ifindex=dec_field(f[4]),
                        running=bool(running), rmem=dec_field(f[6]), uid=dec_field(f[7]),
                        inode=dec_field(f[8]), verified=False)


def parse_packet(text: str, path: str = "/proc/net/packet", errors: list[ParseError] | None = None
                 ) -> list[PacketSocket]:
    """Every socket of /proc/net/packet (no memberships, fanout or rings: it does not say)."""
    return _parse_lines(text, path, errors, parse_packet_line)


def _inet_fields(line: str, family: int, byteorder: str) -> InetFields:
    """The fields raw and ping lines share with /proc/net/udp (``ip4_datagram``/
    ``ip6_dgram_sock_seq_show`` layout): local, port, remote, state, tx, rx, uid, inode, drops.

    ``"  1: 0100007F:0D33 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 828204 2
    00000000c139d7f5 0"``: 127.0.0.1, "port" 0x0D33, state 7, queues 0, uid 0, inode 828204.
    """
    f = line.split()
    if len(f) != 13 or not f[0].endswith(":"):
        raise ValueError(f"{len(f)} fields, not 13")
    width = 8 if family == 4 else 32
    if len(f[1].partition(":")[0]) != width or len(f[2].partition(":")[0]) != width:
        raise ValueError(f"address of the wrong family for IPv{family}")
    local, port = decode_address(f[1], byteorder)
    remote, _ = decode_address(f[2], byteorder)
    state = hex_field(f[3])
    if state > 0xFF:
        raise ValueError(f"not a socket state: {f[3]!r}")
    tx, _, rx = f[4].partition(":")
    return (local, port, remote, state, hex_field(tx), hex_field(rx), dec_field(f[7]),
            dec_field(f[9]), dec_field(f[12]))


def parse_raw(text: str, path: str, family: int, errors: list[ParseError] | None = None,
              byteorder: str = "little") -> list[RawSocket]:
    """Every socket of /proc/net/raw (``family`` 4) or raw6 (6). The local "port" is the
    protocol the socket was opened with; the bound device is not printed (``ifindex`` None)."""
    def line_to_record(line: str) -> RawSocket:
        local, protocol, remote, state, tx, rx, uid, inode, drops = _inet_fields(line, family, byteorder)
        return RawSocket(family=family, protocol=protocol, state=state, local_address=local,
                         remote_address=remote, ifindex=None, inode=inode, uid=uid, rqueue=rx,
                         wqueue=tx, drops=drops, verified=False)

    return _parse_lines(text, path, errors, line_to_record)


def parse_ping(text: str, path: str, family: int, errors: list[ParseError] | None = None,
               byteorder: str = "little") -> list[PingSocket]:
    """Every socket of /proc/net/icmp (``family`` 4) or icmp6 (6): ping sockets, whose local
    "port" is their ICMP echo identifier."""
    def line_to_record(line: str) -> PingSocket:
        local, ident, remote, state, tx, rx, uid, inode, drops = _inet_fields(line, family, byteorder)
        return PingSocket(family=family, state=state, local_address=local, ident=ident,
                          remote_address=remote, inode=inode, uid=uid, rqueue=rx, wqueue=tx,
                          drops=drops, verified=False)

    return _parse_lines(text, path, errors, line_to_record)


def _parse_lines(text: str, path: str, errors: list[ParseError] | None,
                 parse_line: Callable[[str], Record]) -> list[Record]:
    """``parse_line`` of every data line after the header; blank lines are skipped."""
    out = []
    for no, line in enumerate(text.splitlines()[1:], start=2):
        if not line.strip():
            continue
        try:
            out.append(parse_line(line))
        except (ValueError, IndexError) as e:
            _fail(path, no, line, str(e), errors)
    return out
