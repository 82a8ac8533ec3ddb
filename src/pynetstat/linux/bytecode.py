"""inet_diag bytecode: a filter the kernel runs on each socket before it is put in the dump
(``INET_DIAG_REQ_BYTECODE``, the mechanism of ``ss`` filters).

The program, from ``include/uapi/linux/inet_diag.h`` and ``inet_diag_bc_run`` /
``inet_diag_bc_audit`` in ``net/ipv4/inet_diag.c``, is a run of ops::

    struct inet_diag_bc_op { u8 code; u8 yes; u16 no; }     # host order
    S_COND/D_COND: op + struct inet_diag_hostcond { u8 family; u8 prefix_len; int port; __be32 addr[]; }
                   (port -1: any; family AF_UNSPEC: no address, 0 bytes; AF_INET 4; AF_INET6 16)
    S_GE/S_LE/D_GE/D_LE: op + a second op whose ``no`` is the port
    DEV_COND: op + u32 ifindex (the socket's sk_bound_dev_if)
    JMP: always takes ``no``

An op that holds goes ``yes`` bytes on, else ``no`` bytes on (relative to the op, so jumps only go
forward). The socket is kept when the program ends exactly at its length, and dropped when it
lands 4 bytes past it. The kernel audits the program before the dump and answers EINVAL unless:
``yes`` and ``no`` are multiples of 4, at least the op with its data and at most 4 past the end;
every ``no`` that lands inside the program lands on an op the chain of ``yes`` jumps from the
start reaches; the ``yes`` chain ends exactly at the length.

The compiler below keeps to one shape that meets all of that: ``yes`` is always the op's own
size (so every op starts on the ``yes`` chain), and a piece of program *succeeds* by running off
its end and *fails* by jumping to 4 bytes past its end (as ss's ``ssfilter_bytecompile`` does):

- all-of: the pieces one after the other;
- any-of: each piece but the last followed by a JMP to the end; its failure lands on the next piece;
- not: the piece followed by a JMP to failure; the piece's own failure lands past the JMP (success).
"""

from __future__ import annotations

import struct
from _socket import AF_INET, AF_INET6, inet_pton

from pynetstat.kinds import BY_PROTOCOL
from pynetstat.linux.sockdiag import request_for
from pynetstat.model.filters import EITHER, LOCAL, REMOTE, Devices, Hosts, Ports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pynetstat.linux.netlink import Request
    from pynetstat.model.filters import Net

    # an op: code, data after the op, where ``no`` lands (an offset in the piece, or None: the
    # piece's failure)
    Op = tuple[int, bytes, int | None]

# enum in include/uapi/linux/inet_diag.h
BC_NOP, BC_JMP, BC_S_GE, BC_S_LE, BC_D_GE, BC_D_LE, BC_AUTO, BC_S_COND, BC_D_COND, BC_DEV_COND = range(10)
_OP = struct.Struct("=BBH")
_HOSTCOND = struct.Struct("=BBxxi")  # family, prefix_len, (pad), port
_U32 = struct.Struct("=I")
# The attribute's length is a u16 that counts its 4-byte header, and ``no`` is a u16 too: the
# largest multiple of 4 that fits. The kernel takes a program this long (about 2,000 ports on
# either end) in a few tens of ms of audit; tests/test_filter_live.py sends one of 60 KB.
MAX_PROGRAM = 0xFFFF - 4 - 3


class TooLarge(Exception):
    """The program does not fit an attribute; the caller filters in Python instead."""


class _Piece:
    """Ops ``[code, data, target]``: ``target`` is where ``no`` lands, as an offset from the
    piece's start, or ``None`` for the piece's failure. ``const`` is True or False for a piece
    known to hold or fail without looking at the socket (``True`` has no ops)."""

    __slots__ = ("ops", "size", "const")

    def __init__(self, ops: list[Op], const: bool | None = None):
        self.ops = ops
        self.size = sum(4 + len(data) for _, data, _ in ops)
        self.const = const


TRUE = _Piece([], True)
FALSE = _Piece([(BC_JMP, b"", None)], False)


def _op(code: int, data: bytes) -> _Piece:
    return _Piece([(code, data, None)])


def _operands(pieces: Iterable[_Piece], neutral: bool) -> list[_Piece] | _Piece:
    """The pieces less those that are the ``neutral`` constant (True for all-of); or the whole
    answer, when a piece is the other constant or no piece is left."""
    pieces = [p for p in pieces if p.const is not neutral]
    if any(p.const is (not neutral) for p in pieces):
        return FALSE if neutral else TRUE
    return pieces or (TRUE if neutral else FALSE)


def all_of(pieces: Iterable[_Piece]) -> _Piece:
    operands = _operands(pieces, True)
    if isinstance(operands, _Piece):
        return operands
    ops: list[Op]
    ops, at = [], 0
    for piece in operands:
        ops.extend((code, data, None if t is None else t + at) for code, data, t in piece.ops)
        at += piece.size
    return _Piece(ops)


def any_of(pieces: Iterable[_Piece]) -> _Piece:
    operands = _operands(pieces, False)
    if isinstance(operands, _Piece):
        return operands
    end = sum(p.size for p in operands) + 4 * (len(operands) - 1)
    ops: list[Op]
    ops, at = [], 0
    for i, piece in enumerate(operands):
        last = i == len(operands) - 1
        on_fail = None if last else at + piece.size + 4  # the next piece, past the JMP
        ops.extend((code, data, on_fail if t is None else t + at) for code, data, t in piece.ops)
        at += piece.size
        if not last:
            ops.append((BC_JMP, b"", end))  # this piece held: the whole any-of holds
            at += 4
    return _Piece(ops)


def not_(piece: _Piece) -> _Piece:
    if piece.const is not None:
        return FALSE if piece.const else TRUE
    ops: list[Op]
    ops = [(code, data, piece.size + 4 if t is None else t) for code, data, t in piece.ops]
    ops.append((BC_JMP, b"", None))
    return _Piece(ops)


def port_range(end: str, low: int, high: int) -> _Piece:
    """The local (``S``) or remote (``D``) port in ``low..high``."""
    if low == high:
        # A host condition with no address and one port: understood by every kernel with
        # bytecode (S_EQ/D_EQ are newer).
        code = BC_S_COND if end == LOCAL else BC_D_COND
        return _op(code, _HOSTCOND.pack(0, 0, low))
    ge, le = (BC_S_GE, BC_S_LE) if end == LOCAL else (BC_D_GE, BC_D_LE)
    return all_of([_op(ge, _OP.pack(0, 0, low)) if low > 0 else TRUE,
                   _op(le, _OP.pack(0, 0, high)) if high < 0xFFFF else TRUE])


def host(end: str, net: Net, family: int) -> _Piece:
    """The end's address in ``net`` (and the socket bound to its zone's interface). An IPv6 net
    can never match an IPv4 socket; an IPv4 net does match IPv4-mapped IPv6 addresses."""
    if net.family == 6 and family == 4:
        return FALSE
    af = AF_INET6 if net.family == 6 else AF_INET
    code = BC_S_COND if end == LOCAL else BC_D_COND
    cond = _op(code, _HOSTCOND.pack(af, net.prefix, -1) + net.packed)
    return all_of([cond, device(net.ifindex)]) if net.ifindex else cond


def device(ifindex: int) -> _Piece:
    return _op(BC_DEV_COND, _U32.pack(ifindex))


def _ends(end: str) -> tuple[str, ...]:
    return (LOCAL, REMOTE) if end == EITHER else (end,)


def term_piece(term: Ports | Hosts | Devices, family: int) -> _Piece:
    """One ``select`` condition (``Ports``, ``Hosts`` or ``Devices``) for sockets of ``family``."""
    if isinstance(term, Ports):
        piece = any_of(port_range(end, lo, hi) for end in _ends(term.end) for lo, hi in term.ranges)
    elif isinstance(term, Hosts):
        piece = any_of(host(end, net, family) for end in _ends(term.end) for net in term.nets)
    elif isinstance(term, Devices):
        piece = any_of([*(device(i) for i in sorted(term.ifindexes)),
                        *(host(LOCAL, net, family) for net in term.nets)])
    else:
        raise TypeError(f"no bytecode for {term!r}")
    return not_(piece) if term.negated else piece


def assemble(piece: _Piece) -> bytes | None:
    """The program's bytes; ``None`` when it would keep every socket (no program is needed, and
    the kernel refuses an empty one). Raises ``TooLarge`` past what an attribute holds."""
    if piece.const is True:
        return None
    if piece.size > MAX_PROGRAM:
        raise TooLarge(f"inet_diag bytecode of {piece.size} bytes")
    out, at = [], 0
    for code, data, target in piece.ops:
        size = 4 + len(data)
        no = (piece.size + 4 if target is None else target) - at
        out.append(_OP.pack(code, size, no) + data)
        at += size
    return b"".join(out)


def endpoints_piece(ends: Iterable[tuple[str, int, str | None, int]], family: int) -> _Piece:
    """Any of the sockets with these ends, ``(local address, local port, foreign address or
    None, foreign port)`` (the foreign end is left out for a socket that has none: a listener,
    an unconnected UDP socket), each address exact. The owner walk knows them for the few
    sockets an owner filter keeps (linux/owner_filter.py)."""
    af = AF_INET6 if family == 6 else AF_INET
    prefix = 128 if family == 6 else 32
    pieces = []
    for local, lport, remote, rport in ends:
        piece = _op(BC_S_COND, _HOSTCOND.pack(af, prefix, lport) + inet_pton(af, local))
        if remote is not None:
            piece = all_of([piece, _op(BC_D_COND, _HOSTCOND.pack(af, prefix, rport)
                                       + inet_pton(af, remote))])
        pieces.append(piece)
    return any_of(pieces)


def compile_terms(terms: Iterable[Ports | Hosts | Devices], family: int,
                  ends: Iterable[tuple[str, int, str | None, int]] | None = None) -> bytes | None:
    """A ``Selection``'s ``kernel_terms`` (all of them must hold) as a program for a dump of
    ``family`` (4 or 6), and, given ``ends``, only the sockets with one of those ends
    (``endpoints_piece``); ``None``: no program needed. Raises ``TooLarge``."""
    pieces = [term_piece(term, family) for term in terms]
    if ends is not None:
        pieces.append(endpoints_piece(ends, family))
    return assemble(all_of(pieces))


def build_filtered_request(family: int, proto: str, states: int, bytecode: bytes | None) -> Request:
    """A sock_diag dump request for one family (4 or 6) and protocol (``"tcp"`` or ``"udp"``),
    with the program attached (``sockdiag.request_for``, the one request builder of a kind)."""
    return request_for(BY_PROTOCOL[(proto, family)], states, 0, bytecode)
