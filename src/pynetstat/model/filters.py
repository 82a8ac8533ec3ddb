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
    from collections.abc import Callable, Iterable

    from pynetstat.model.process import ProcessInfo

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

    __slots__: tuple[str, ...] = ()

    def __init__(self, **fields: object) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, fields[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._values()))})"


class States(_Record):
    """``--state``: ``mask`` has bit N set for each kernel state N kept (negation applied)."""

    __slots__ = ("mask",)
    if TYPE_CHECKING:
        mask: int

        def __init__(self, *, mask: int) -> None: ...


class Ports(_Record):
    """``--port``/``--lport``/``--rport``: ``ranges`` are inclusive ``(low, high)`` pairs."""

    __slots__ = ("end", "ranges", "negated")
    if TYPE_CHECKING:
        end: str  # LOCAL, REMOTE or EITHER
        ranges: tuple[tuple[int, int], ...]
        negated: bool

        def __init__(self, *, end: str, ranges: tuple[tuple[int, int], ...],
                     negated: bool) -> None: ...


class Net(_Record):
    """One CIDR: ``family`` 4 or 6, ``packed`` network address (host bits cleared), ``prefix``
    bits, ``zone`` (interface name or index text, or ``None``) and, once bound, ``ifindex``."""

    __slots__ = ("family", "packed", "prefix", "zone", "ifindex")
    if TYPE_CHECKING:
        family: int
        packed: bytes
        prefix: int
        zone: str | None
        ifindex: int | None

        def __init__(self, *, family: int, packed: bytes, prefix: int, zone: str | None,
                     ifindex: int | None) -> None: ...

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
    if TYPE_CHECKING:
        end: str
        nets: tuple[Net, ...]
        negated: bool

        def __init__(self, *, end: str, nets: tuple[Net, ...], negated: bool) -> None: ...


class Interfaces(_Record):
    """``--interface``: ``names`` as given; ``bind`` turns it into ``Devices``."""

    __slots__ = ("names", "negated")
    if TYPE_CHECKING:
        names: tuple[str, ...]
        negated: bool

        def __init__(self, *, names: tuple[str, ...], negated: bool) -> None: ...


class Devices(_Record):
    """A bound ``--interface``: bound to one of ``ifindexes``, or local address in ``nets``."""

    __slots__ = ("ifindexes", "nets", "negated")
    if TYPE_CHECKING:
        ifindexes: frozenset[int]
        nets: tuple[Net, ...]
        negated: bool

        def __init__(self, *, ifindexes: frozenset[int], nets: tuple[Net, ...],
                     negated: bool) -> None: ...


class Users(_Record):
    """``--user``: the socket's uid is one of ``uids``."""

    __slots__ = ("uids", "negated")
    if TYPE_CHECKING:
        uids: frozenset[int]
        negated: bool

        def __init__(self, *, uids: frozenset[int], negated: bool) -> None: ...


class Owners(_Record):
    """``--pid`` (``values`` are ints), ``--process``, ``--unit``, ``--container`` (``values`` are
    shell patterns): conditions on the processes holding the socket, for the owner walk.

    A socket meets the condition when one of its processes does (``holds``); negated, when none
    does, so a socket no visible process holds meets ``--pid '!1'`` and not ``--pid 1``.
    """

    __slots__ = ("kind", "values", "negated")
    if TYPE_CHECKING:
        kind: str  # "pid", "process", "unit" or "container"
        values: frozenset[int] | tuple[str, ...]  # the PIDs for "pid", else patterns
        negated: bool

        def __init__(self, *, kind: str, values: frozenset[int] | tuple[str, ...],
                     negated: bool) -> None: ...

    def holds(self, processes: Iterable[tuple[int, ProcessInfo | None]]) -> bool:
        """``processes``: the socket's ``(pid, ProcessInfo or None when not read)``."""
        return any(self.matches(pid, info) for pid, info in processes) != self.negated

    def matches(self, pid: int, info: ProcessInfo | None) -> bool:
        """One process, before negation. A process whose details were not read matches only by
        PID. Names are matched as shell patterns, case-sensitively (``fnmatchcase``)."""
        if self.kind == "pid":
            return pid in self.values
        if info is None:
            return False
        from fnmatch import fnmatchcase

        patterns: tuple[str, ...] = self.values  # type: ignore[assignment]  # kind is not "pid"
        if self.kind == "process":
            names = [info.name, info.exe.rpartition("/")[2] if info.exe else None]
        elif self.kind == "unit":
            names = [info.unit]
        else:  # container: as -b names it (docker:9ec39b91f3d7), its id or a prefix, its pod
            c = info.container
            if c is None:
                return False
            ids = [c.id, f"{c.runtime}:{c.id}"] if c.id else []
            # an id prefix of 4 digits or more, as `docker ps` accepts one
            if any(i.startswith(v) for i in ids for v in patterns
                   if len(v.rpartition(":")[2]) >= 4):
                return True
            names = [*ids, c.pod]
        return any(fnmatchcase(name, pattern) for name in names if name for pattern in patterns)
