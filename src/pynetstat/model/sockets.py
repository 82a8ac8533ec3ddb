"""Typed records shared by every layer. The backend fills them, filters and renderers read them.

Records are slotted classes rather than dataclasses: ``dataclasses`` pulls in ``inspect`` and
``re`` (about 13 ms of start-up here), and a listing may create 200,000 of them, so construction
must stay a plain ``__init__``.
"""

from __future__ import annotations

from itertools import repeat

from pynetstat.model.fields import (
    batch_columns,
    batch_constants,
    keyword_init,
    positional_maker,
    record_slots,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.process import ProcessInfo

# Linux TCP states, include/net/tcp_states.h
TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2
TCP_SYN_RECV = 3
TCP_FIN_WAIT1 = 4
TCP_FIN_WAIT2 = 5
TCP_TIME_WAIT = 6
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8
TCP_LAST_ACK = 9
TCP_LISTEN = 10
TCP_CLOSING = 11
TCP_NEW_SYN_RECV = 12
TCP_BOUND_INACTIVE = 13

KERNEL_STATE_NAMES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
    12: "NEW_SYN_RECV", 13: "BOUND_INACTIVE",
}

# The names the spec's netstat prints (MIB_TCP_STATE). Linux's NEW_SYN_RECV is a request socket
# in the SYN_RECEIVED state; BOUND_INACTIVE is what Windows calls BOUND.
SPEC_STATE_NAMES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECEIVED", 4: "FIN_WAIT_1", 5: "FIN_WAIT_2",
    6: "TIME_WAIT", 7: "CLOSED", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTENING", 11: "CLOSING",
    12: "SYN_RECEIVED", 13: "BOUND",
}


def spec_state_name(state: int) -> str:
    """``10 -> "LISTENING"``; a code this table does not know prints as ``UNKNOWN(99)``."""
    name = SPEC_STATE_NAMES.get(state)
    return name if name is not None else f"UNKNOWN({state})"


# Mini-sockets keep no owner: a TIME_WAIT socket (struct inet_timewait_sock) and a request socket
# (struct request_sock, listed as SYN_RECV, NEW_SYN_RECV in the kernel) have no file, hence inode
# 0, and no uid. sock_diag says uid 0 for them (net/ipv4/inet_diag.c: inet_twsk_diag_fill,
# inet_req_diag_fill), /proc 0 or the listener's (net/ipv4/tcp_ipv4.c: get_timewait4_sock,
# get_openreq4): neither is the socket's, so the record says None.
UIDLESS_STATES = frozenset((TCP_SYN_RECV, TCP_TIME_WAIT, TCP_NEW_SYN_RECV))


def owner_uid(state: int, inode: int, uid: int) -> int | None:
    """The socket's uid, or None for a socket that has none (a TIME_WAIT or request socket)."""
    return None if inode == 0 and state in UIDLESS_STATES else uid


def owner_uids(states: Sequence[int], inodes: Sequence[int],
               uids: Sequence[int]) -> Sequence[int | None]:
    """``owner_uid`` for columns; the uid column itself when no socket lacks an owner (the
    usual batch: one C-level scan for an inode 0, no Python work per socket)."""
    if 0 not in inodes or UIDLESS_STATES.isdisjoint(states):
        return uids
    return list(map(owner_uid, states, inodes, uids))


def kernel_state_name(state: int) -> str:
    name = KERNEL_STATE_NAMES.get(state)
    return name if name is not None else f"UNKNOWN({state})"


class InetSocket:
    """One TCP or UDP socket, from sock_diag or from /proc/net/{tcp,udp}[6]: the source is invisible here.

    Fields (model/fields.py, shape "inet"): ``proto`` is ``"tcp"`` or ``"udp"``; ``family`` 4 or
    6. Addresses are numeric strings (``"127.0.0.1"``, ``"::1"``); ``scope`` is the interface index
    of a link-local address (else 0). ``cookie`` is the kernel's 64-bit socket cookie (``None``
    from /proc); ``inode`` is 0 for sockets no file refers to (TIME_WAIT, request sockets), whose
    ``uid`` is None (``owner_uid``).
    The constructor takes keywords only: ``InetSocket(proto="tcp", family=4, state=10, ...)``.
    """

    __slots__ = record_slots("inet")
    if TYPE_CHECKING:  # the slots' types, for the type checker (tests/test_typing.py keeps them
        # equal to the field table's names); the constructor takes them as keywords
        def __init__(self, **fields: Any) -> None: ...

        proto: str
        family: int
        state: int
        inode: int
        uid: int | None
        cookie: int | None
        recv_q: int
        send_q: int
        local_address: str
        local_port: int
        remote_address: str
        remote_port: int
        scope: int
    else:
        __init__ = keyword_init(__slots__)

    @property
    def identity(self) -> tuple[object, ...]:
        """The kernel's identity of the socket: inode, else cookie, else the 4-tuple (TIME_WAIT in /proc)."""
        if self.inode:
            return ("inode", self.inode)
        if self.cookie is not None:
            return ("cookie", self.cookie)
        return (self.proto, self.family, self.local_address, self.local_port,
                self.remote_address, self.remote_port, self.state)

    def __repr__(self) -> str:
        return (f"InetSocket({self.proto}{'6' if self.family == 6 else ''} "
                f"{self.local_address}:{self.local_port} -> {self.remote_address}:{self.remote_port} "
                f"state={self.state} inode={self.inode})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InetSocket):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


# The record class of each endpoint shape (the kind table names the shape).
RECORDS = {"inet": InetSocket}


class Owner:
    """A process holding a socket open: its PID and, when asked for, its short name (comm) and
    the details -b shows (a ``ProcessInfo``)."""

    __slots__ = ("pid", "name", "process")

    def __init__(self, pid: int, name: str | None = None, process: ProcessInfo | None = None):
        self.pid = pid
        self.name = name
        self.process = process

    def __repr__(self) -> str:
        return f"Owner({self.pid}, {self.name!r})"


class ScanReport:
    """What the owner scan could not see, so that it is said rather than silently dropped."""

    __slots__ = ("processes", "denied", "vanished", "fds_unreadable", "hidepid")

    def __init__(self) -> None:
        self.processes = 0  # processes whose fd table was read
        self.denied = 0  # processes whose fd table we may not read (EACCES/EPERM)
        self.vanished = 0  # processes or fds that went away mid-scan
        self.fds_unreadable = 0  # single fds whose link could not be read
        # "hidepid=invisible" when /proc hides other users' processes from us: they are not
        # denied, they are simply not listed, so nothing else would say why their sockets lack
        # an owner.
        self.hidepid: str | None = None


class SocketBatch:
    """Sockets of one kind (protocol and family), stored by column: one sequence (a tuple or a
    list, never changed after the batch is made) per column of the field table, all of one length.

    A listing of 200,000 sockets spends its time per socket, so the text table works on whole
    columns at once (``map`` over a column runs in C); everything that wants one record at a time
    (JSON, -b, interval diffs) uses ``rows()``. Both sources (sock_diag and /proc) build batches,
    and ``rows()`` gives back exactly the ``InetSocket`` records they hold.

    ``owners`` is ``None`` until the owner join fills it with one ``tuple[Owner, ...]`` per socket.
    ``attributes`` is ``None`` unless the dump was decoded with its netlink attributes (a view
    asked for extension fields): then one ``{attribute type: payload bytes}`` per socket.
    ``extensions`` is ``None`` unless a view asked for extension groups (model/fields.EXTENSIONS:
    --info, --timers, --memory) and the source had them (sock_diag): then one decoded record per
    socket (``linux.diagext.Extensions``).
    """

    COLUMNS = batch_columns("inet")
    CONSTANTS = batch_constants("inet")  # ("proto", "family")
    # netns: the model.netns.NetNamespace its sockets are in, with --netns and --all-netns
    __slots__ = CONSTANTS + COLUMNS + ("owners", "attributes", "extensions", "netns")
    if TYPE_CHECKING:  # the slots' types (tests/test_typing.py keeps them equal to the table)
        def __init__(self, **fields: Any) -> None: ...

        proto: str
        family: int
        state: Sequence[int]
        inode: Sequence[int]
        uid: Sequence[int | None]
        cookie: Sequence[int | None]
        recv_q: Sequence[int]
        send_q: Sequence[int]
        local_address: Sequence[str]
        local_port: Sequence[int]
        remote_address: Sequence[str]
        remote_port: Sequence[int]
        scope: Sequence[int]
        owners: Sequence[tuple[Owner, ...]] | None
        attributes: Sequence[dict[int, bytes]] | None
        extensions: Sequence[Any] | None  # linux.diagext.Extensions (model imports no collector)
        netns: NetNamespace | None
    else:
        __init__ = keyword_init(
            CONSTANTS + COLUMNS,
            extra="self.owners = self.attributes = self.extensions = self.netns = None")

    def __len__(self) -> int:
        return len(self.state)

    @classmethod
    def from_sockets(cls, proto: str, family: int, sockets: list[InetSocket]) -> SocketBatch:
        columns = {name: tuple(getattr(s, name) for s in sockets) for name in cls.COLUMNS}
        return cls(proto=proto, family=family, **columns)

    def sockets(self) -> Iterator[InetSocket]:
        return map(_make_inet, *(repeat(getattr(self, name)) for name in self.CONSTANTS),
                   *(getattr(self, name) for name in self.COLUMNS))

    def socket_at(self, i: int) -> InetSocket:
        """The record at position ``i``."""
        return _make_inet(*(getattr(self, name) for name in self.CONSTANTS),
                          *(getattr(self, name)[i] for name in self.COLUMNS))

    def rows(self) -> Iterator[tuple[InetSocket, tuple[Owner, ...]]]:
        """``(socket, owners)`` pairs; owners is ``()`` when the owner join did not run."""
        owners = self.owners
        if owners is None:
            return zip(self.sockets(), repeat(()))
        return zip(self.sockets(), owners)

    def take(self, keep: list[int]) -> SocketBatch:
        """The batch restricted to the positions in ``keep`` (in order)."""
        columns = {name: tuple(getattr(self, name)[i] for i in keep) for name in self.COLUMNS}
        batch = SocketBatch(proto=self.proto, family=self.family, **columns)
        if self.owners is not None:
            batch.owners = tuple(self.owners[i] for i in keep)
        if self.attributes is not None:
            batch.attributes = tuple(self.attributes[i] for i in keep)
        if self.extensions is not None:
            batch.extensions = tuple(self.extensions[i] for i in keep)
        return batch


# Columns -> record, in the field table's order (SocketBatch.sockets and socket_at).
_make_inet = positional_maker(InetSocket, SocketBatch.CONSTANTS + SocketBatch.COLUMNS)
