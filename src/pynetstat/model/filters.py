"""The records a filter is made of (issue 14): one per condition, immutable, compared by value.

``pynetstat.select`` parses option values into them and evaluates them over socket columns;
``linux/bytecode.py`` compiles the socket-address ones into inet_diag bytecode.
"""

from __future__ import annotations

from pynetstat.model.sockets import (
    KERNEL_STATE_NAMES,
    SPEC_STATE_NAMES,
    TCP_CLOSE,
    TCP_LISTEN,
    TCP_NEW_SYN_RECV,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

LOCAL, REMOTE, EITHER = "local", "remote", "either"

# --- states ---------------------------------------------------------------------------------------
# A filter's states are a mask, bit N for kernel state N (include/net/tcp_states.h), as in the
# request. SYN_RECV and NEW_SYN_RECV go together: the kernel dumps request sockets whenever
# SYN_RECV is asked for (inet_diag_dump_icsk), and the spec calls both SYN_RECEIVED.
_SYN_RECV = (1 << TCP_SYN_RECV) | (1 << TCP_NEW_SYN_RECV)
KNOWN_STATES = sum(1 << state for state in KERNEL_STATE_NAMES)
_ALL = KNOWN_STATES & ~(1 << 13)  # ss's "all": every state but BOUND_INACTIVE
_CONNECTED = _ALL & ~((1 << TCP_LISTEN) | (1 << TCP_CLOSE))
_BUCKET = _SYN_RECV | (1 << TCP_TIME_WAIT)
STATE_GROUPS = {"ALL": _ALL, "CONNECTED": _CONNECTED,
                "SYNCHRONIZED": _CONNECTED & ~(1 << TCP_SYN_SENT), "BUCKET": _BUCKET,
                "BIG": _ALL & ~_BUCKET}
STATE_NAMES = {name.replace("-", "_"): (_SYN_RECV if 1 << state & _SYN_RECV else 1 << state)
               for table in (KERNEL_STATE_NAMES, SPEC_STATE_NAMES)
               for state, name in table.items()}
STATE_NAMES.update(SYN_RCV=_SYN_RECV, UNCONNECTED=1 << TCP_CLOSE)  # ss's other spellings


class _Record:
    """An immutable slotted record: fields set once by keyword, compared and hashed by value."""

    __slots__ = ()

    def __init__(self, **fields):
        for name in self.__slots__:
            object.__setattr__(self, name, fields[name])

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return type(self) is type(other) and self._values() == other._values()

    def __hash__(self):
        return hash((type(self).__name__, self._values()))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(map(repr, self._values()))})"


class States(_Record):
    """``--state``: ``mask`` has bit N set for each kernel state N kept (negation applied)."""

    __slots__ = ("mask",)


class Ports(_Record):
    """``--port``/``--lport``/``--rport``: ``ranges`` are inclusive ``(low, high)`` pairs."""

    __slots__ = ("end", "ranges", "negated")


class Net(_Record):
    """One CIDR: ``family`` 4 or 6, ``packed`` network address (host bits cleared), ``prefix``
    bits, ``zone`` (interface name or index text, or ``None``) and, once bound, ``ifindex``."""

    __slots__ = ("family", "packed", "prefix", "zone", "ifindex")

    def matcher(self) -> Callable[[int, bytes], bool]:
        """``(family, packed address) -> bool``, by the kernel's rule (``inet_diag_bc_run``,
        net/ipv4/inet_diag.c): an IPv4 net also matches the IPv4-mapped addresses of IPv6 sockets."""
        width = 32 if self.family == 4 else 128
        shift = width - self.prefix
        want = int.from_bytes(self.packed, "big") >> shift

        def match(family: int, packed: bytes) -> bool:
            if family != self.family:
                if family != 6 or self.family != 4 or packed[:12] != MAPPED_PREFIX:
                    return False
                packed = packed[12:]
            return int.from_bytes(packed, "big") >> shift == want
        return match


MAPPED_PREFIX = bytes(10) + b"\xff\xff"


class Hosts(_Record):
    """``--addr``/``--local``/``--remote``: any of ``nets`` on ``end``."""

    __slots__ = ("end", "nets", "negated")


class Interfaces(_Record):
    """``--interface``: ``names`` as given; ``bind`` turns it into ``Devices``."""

    __slots__ = ("names", "negated")


class Devices(_Record):
    """A bound ``--interface``: bound to one of ``ifindexes``, or local address in ``nets``."""

    __slots__ = ("ifindexes", "nets", "negated")


class Users(_Record):
    """``--user``: the socket's uid is one of ``uids``."""

    __slots__ = ("uids", "negated")


class Owners(_Record):
    """``--pid`` (``values`` are ints), ``--process``, ``--unit``, ``--container`` (``values`` are
    shell patterns): conditions on the processes holding the socket, for the owner walk."""

    __slots__ = ("kind", "values", "negated")
