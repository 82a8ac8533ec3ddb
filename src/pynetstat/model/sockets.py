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
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.passes import Measures
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


# Well-known IP protocol numbers and ethertypes (include/uapi/linux/in.h, if_ether.h), named
# beside the number (RAW and packet sockets, the audit's evidence).
IP_PROTOCOLS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "icmpv6", 89: "ospf",
                112: "vrrp", 255: "raw"}
ETHERTYPES = {0x0003: "all", 0x0800: "ipv4", 0x0806: "arp", 0x86DD: "ipv6", 0x888E: "eapol"}
# include/linux/net.h (enum sock_type): as net-tools prints a UNIX socket's Type
SOCK_TYPE_WORDS = {1: "STREAM", 2: "DGRAM", 3: "RAW", 5: "SEQPACKET"}
# What a UNIX socket's sk_state reads as (net-tools' words; af_unix uses 1, 2, 7, 10): an
# unconnected socket says nothing.
UNIX_STATE_WORDS = {1: "CONNECTED", 2: "CONNECTING", 7: "", 10: "LISTENING"}


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


class _Other:
    """Identity, equality and ``repr`` of the records of the other shapes (UNIX, RAW, packet)."""

    __slots__: tuple[str, ...] = ()
    if TYPE_CHECKING:  # the slots come from the field table (model/fields.py), per shape
        def __init__(self, **fields: Any) -> None: ...
        def __getattr__(self, name: str) -> Any: ...

    @property
    def identity(self) -> tuple[Any, ...]:
        """The kernel's identity: the inode, else the cookie, else the whole record (a /proc
        line with inode 0: a UNIX connection not yet accepted). A /proc/net/unix line whose
        inode another line names too is the whole record: both are shown, flagged, never one
        dropped as a repeat (either may be the forgery)."""
        if self.inode and not getattr(self, "duplicate", False):
            return ("inode", self.inode)
        if self.cookie is not None:
            return ("cookie", self.cookie)
        return tuple(repr(getattr(self, k)) for k in self.__slots__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.proto} state={self.state} inode={self.inode})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


class UnixSocketRecord(_Other):
    """One AF_UNIX socket (fields: model/fields.py, shape "unix"); ``proto`` "unix", ``family`` 0."""

    __slots__ = record_slots("unix")
    __init__ = keyword_init(__slots__)


class RawSocketRecord(_Other):
    """One RAW or ICMP "ping" socket (shape "raw"); ``proto`` "raw" or "icmp", ``family`` 4 or 6."""

    __slots__ = record_slots("raw")
    __init__ = keyword_init(__slots__)


class PacketSocketRecord(_Other):
    """One AF_PACKET socket (shape "packet"); ``proto`` "packet", ``family`` 0."""

    __slots__ = record_slots("packet")
    __init__ = keyword_init(__slots__)


class VsockSocketRecord(_Other):
    """One AF_VSOCK socket (shape "vsock"); ``proto`` "vsock", ``family`` 0."""

    __slots__ = record_slots("vsock")
    __init__ = keyword_init(__slots__)


# The record class of each endpoint shape (the kind table names the shape).
RECORDS = {"inet": InetSocket, "unix": UnixSocketRecord, "raw": RawSocketRecord,
           "packet": PacketSocketRecord, "vsock": VsockSocketRecord}


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


class _Batch:
    """Sockets of one kind (protocol and family), stored by column: one sequence (a tuple or a
    list, never changed after the batch is made) per column of the field table, all of one length.
    One subclass per endpoint shape (``BATCHES``); ``SocketBatch`` is the inet one.

    A listing of 200,000 sockets spends its time per socket, so the text table works on whole
    columns at once (``map`` over a column runs in C); everything that wants one record at a time
    (JSON, -b, interval diffs) uses ``rows()``. Both sources (sock_diag and /proc) build batches,
    and ``rows()`` gives back exactly the records they hold.

    ``owners`` is ``None`` until the owner join fills it with one ``tuple[Owner, ...]`` per socket.
    ``attributes`` is ``None`` unless the dump was decoded with its netlink attributes (a view
    asked for extension fields): then one ``{attribute type: payload bytes}`` per socket.
    ``extensions`` is ``None`` unless a view asked for extension groups (model/fields.EXTENSIONS:
    --info, --timers, --memory) and the source had them (sock_diag): then a sequence of one
    decoded record per socket (``linux.diagext.Extensions``), for a run of messages a
    ``diagext.RunExtensions`` that makes them only when one is read (the text of --info reads
    its fields from the dump's buffer instead).
    ``measures`` is ``None`` outside interval mode: then, with ``--info`` or ``-i``, what the run
    measured of each socket since the pass before (model/passes.Measures: rates, time seen in
    its state).
    """

    __slots__: tuple[str, ...] = ()
    SHAPE = ""
    COLUMNS: tuple[str, ...] = ()
    CONSTANTS: tuple[str, ...] = ()
    if TYPE_CHECKING:  # the slots come from the field table, per shape (SocketBatch states its own)
        _make: Callable[..., Any]
        owners: Any
        attributes: Any
        extensions: Any
        netns: Any
        measures: Any

        def __init__(self, **fields: Any) -> None: ...
        def __getattr__(self, name: str) -> Any: ...

    def __len__(self) -> int:
        return len(self.state)

    @classmethod
    def from_sockets(cls, proto: str, family: int, sockets: list[Any]) -> Any:
        columns = {name: tuple(getattr(s, name) for s in sockets) for name in cls.COLUMNS}
        return cls(proto=proto, family=family, **columns)

    def sockets(self) -> Iterator[Any]:
        return map(self._make, *(repeat(getattr(self, name)) for name in self.CONSTANTS),
                   *(getattr(self, name) for name in self.COLUMNS))

    def socket_at(self, i: int) -> Any:
        """The record at position ``i``."""
        return self._make(*(getattr(self, name) for name in self.CONSTANTS),
                          *(getattr(self, name)[i] for name in self.COLUMNS))

    def rows(self) -> Iterator[tuple[Any, tuple[Owner, ...]]]:
        """``(socket, owners)`` pairs; owners is ``()`` when the owner join did not run."""
        owners = self.owners
        if owners is None:
            return zip(self.sockets(), repeat(()))
        return zip(self.sockets(), owners)

    def take(self, keep: list[int]) -> Any:
        """The batch restricted to the positions in ``keep`` (in order)."""
        columns = {name: tuple(getattr(self, name)[i] for i in keep) for name in self.COLUMNS}
        batch = type(self)(proto=self.proto, family=self.family, **columns)
        if self.owners is not None:
            batch.owners = tuple(self.owners[i] for i in keep)
        if self.attributes is not None:
            batch.attributes = tuple(self.attributes[i] for i in keep)
        if self.extensions is not None:
            batch.extensions = tuple(self.extensions[i] for i in keep)
        for name in _JOINED if self.SHAPE == "inet" else ():
            if getattr(self, name) is not None:
                setattr(batch, name, tuple(getattr(self, name)[i] for i in keep))
        return batch


# The inet batch's columns of the peer join (SocketBatch); a UNIX batch's peer is a column of its own.
_JOINED = ("peer", "peer_accepted", "peer_owners")


def _batch_class(name: str, shape: str, doc: str) -> Any:
    """The batch class of one endpoint shape, its slots and constructor made from the field table."""
    columns, constants = batch_columns(shape), batch_constants(shape)
    cls: Any = type(name, (_Batch,), {
        "__doc__": doc,
        "__slots__": constants + columns + ("owners", "attributes", "extensions", "netns",
                                                      "measures"),
        "SHAPE": shape, "COLUMNS": columns, "CONSTANTS": constants,
        # extensions: always None (the extension groups are TCP's), as the renderers ask every batch
        "__init__": keyword_init(constants + columns, extra="self.owners = self.attributes = "
                                 "self.extensions = self.netns = self.measures = None"),
    })
    cls._make = staticmethod(positional_maker(RECORDS[shape], constants + columns))
    return cls


class SocketBatch(_Batch):
    """TCP and UDP sockets by column (``_Batch``): the inet shape's batch."""

    SHAPE = "inet"
    COLUMNS = batch_columns("inet")
    CONSTANTS = batch_constants("inet")  # ("proto", "family")
    # netns: the model.netns.NetNamespace its sockets are in, with --netns and --all-netns.
    # peer, peer_accepted, peer_owners: the peer join (model/peers.py, the collector's owner
    # join): None until it runs, then per socket the inode of the other end on this host (0:
    # none), whether this end was accepted (None: unknown) and the other end's owners.
    # measures: interval mode's per-connection measures (model/passes.py), or None.
    __slots__ = CONSTANTS + COLUMNS + ("owners", "attributes", "extensions", "netns", "peer",
                                       "peer_accepted", "peer_owners", "measures")
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
        peer: Sequence[int] | None
        peer_accepted: Sequence[bool | None] | None
        peer_owners: Sequence[tuple[Owner, ...]] | None
        measures: Measures | None
    else:
        __init__ = keyword_init(
            CONSTANTS + COLUMNS,
            extra="self.owners = self.attributes = self.extensions = self.netns = self.peer = "
                  "self.peer_accepted = self.peer_owners = self.measures = None")


SocketBatch._make = staticmethod(positional_maker(InetSocket, SocketBatch.CONSTANTS + SocketBatch.COLUMNS))
UnixBatch = _batch_class("UnixBatch", "unix", "UNIX sockets by column (``_Batch``).")
RawBatch = _batch_class("RawBatch", "raw", "RAW and ping sockets by column (``_Batch``).")
PacketBatch = _batch_class("PacketBatch", "packet", "Packet sockets by column (``_Batch``).")
VsockBatch = _batch_class("VsockBatch", "vsock", "AF_VSOCK sockets by column (``_Batch``).")
# The batch class of each endpoint shape (kinds.SocketKind.batch).
BATCHES = {"inet": SocketBatch, "unix": UnixBatch, "raw": RawBatch, "packet": PacketBatch,
           "vsock": VsockBatch}
