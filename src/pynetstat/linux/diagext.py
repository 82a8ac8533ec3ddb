"""The optional parts of an ``inet_diag`` reply: extension attributes and the socket's timer.

A sock_diag request names the extensions it wants in ``idiag_ext``, one bit per attribute type
``T`` at ``1 << (T - 1)`` (include/uapi/linux/inet_diag.h; a u8, so only types 1-8 can be
asked for this way). The kernel appends each as a netlink attribute after ``inet_diag_msg``
(net/ipv4/inet_diag.c ``inet_diag_msg_attrs_fill`` and ``inet_sk_diag_fill``). Time-wait and
request sockets get none of them (``inet_twsk_diag_fill``, ``inet_req_diag_fill``); UDP gets no
``INET_DIAG_INFO`` (its handler's ``idiag_info_size`` is 0) and no ``INET_DIAG_CONG``.

The timer is not an extension: ``idiag_timer``, ``idiag_expires`` and ``idiag_retrans`` are in
every ``inet_diag_msg``; ``decode_timer`` reads them the way ss ``-o`` prints them.
"""

from __future__ import annotations

import struct

from pynetstat.linux.tcpinfo import TcpInfo, decode_tcp_info, prefix_reader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import TypeVar, overload

    from pynetstat.linux.mptcpinfo import MptcpInfo

    Record = TypeVar("Record", bound="_Record")

# include/uapi/linux/inet_diag.h, enum { INET_DIAG_NONE, INET_DIAG_MEMINFO, ... }
INET_DIAG_MEMINFO = 1
INET_DIAG_INFO = 2
INET_DIAG_VEGASINFO = 3
INET_DIAG_CONG = 4
INET_DIAG_TOS = 5
INET_DIAG_TCLASS = 6
INET_DIAG_SKMEMINFO = 7
INET_DIAG_SHUTDOWN = 8  # always sent, never requested

# idiag_ext bits: what to ask the kernel for, per group of fields a view can want.
EXT_MEMINFO = 1 << (INET_DIAG_MEMINFO - 1)  # 0x01
EXT_INFO = 1 << (INET_DIAG_INFO - 1)  # 0x02: struct tcp_info
EXT_CONG = 1 << (INET_DIAG_CONG - 1)  # 0x08: congestion control name
EXT_TOS = 1 << (INET_DIAG_TOS - 1)  # 0x10
EXT_TCLASS = 1 << (INET_DIAG_TCLASS - 1)  # 0x20 (IPv6 sockets only)
EXT_SKMEMINFO = 1 << (INET_DIAG_SKMEMINFO - 1)  # 0x40
# The issue-13 field groups: --info (ss -i asks for INFO, CONG and the Vegas/DCTCP/BBR info;
# we leave the last out), --memory (ss -m asks for SKMEMINFO; MEMINFO is the older, smaller
# form, kept for kernels before 3.6), -d (the DSCP).
GROUP_INFO = EXT_INFO | EXT_CONG
GROUP_MEMORY = EXT_SKMEMINFO | EXT_MEMINFO
GROUP_TOS = EXT_TOS | EXT_TCLASS
# model/fields.EXTENSIONS group -> the idiag_ext bits it needs. The timer is in every message
# (no bit), but is read only when a view asks for it.
GROUP_BITS = {"tcp_info": GROUP_INFO, "memory": GROUP_MEMORY, "tos": GROUP_TOS, "timer": 0,
              "times": EXT_INFO}


def request_bits(groups: Iterable[str]) -> int:
    """The ``idiag_ext`` byte for these groups: ``("tcp_info",) -> 0x0a``."""
    bits = 0
    for group in groups:
        bits |= GROUP_BITS[group]
    return bits

_U8 = struct.Struct("=B")
_MEMINFO = struct.Struct("=IIII")


class _Record:
    """Slotted, keyword-only: every slot must be given, nothing else."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, **fields: object) -> None:
        missing = set(self.__slots__) - set(fields)
        extra = set(fields) - set(self.__slots__)
        if missing or extra:
            raise TypeError(f"{type(self).__name__}: missing {sorted(missing)}, unknown {sorted(extra)}")
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def _of(cls: type[Record], *values: object) -> Record:
        """The decoders' constructor: values in slot order, unchecked (the keyword check costs
        more than the decoding, at 40k sockets a dump)."""
        record = object.__new__(cls)
        for name, value in zip(cls.__slots__, values):
            setattr(record, name, value)
        return record

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.as_dict().items())})"


class MemInfo(_Record):
    """``struct inet_diag_meminfo`` (``INET_DIAG_MEMINFO``), all in bytes: ``rmem`` received
    and unread (sk_rmem_alloc), ``wmem`` queued for sending (sk_wmem_queued), ``fmem`` reserved
    ahead (sk_forward_alloc), ``tmem`` handed to the device layer and not yet freed (sk_wmem_alloc).
    ss prints it as ``mem:(r,w,f,t)`` when SKMEMINFO is missing."""

    __slots__ = ("rmem", "wmem", "fmem", "tmem")
    if TYPE_CHECKING:
        rmem: int
        wmem: int
        fmem: int
        tmem: int


# include/uapi/linux/sock_diag.h enum { SK_MEMINFO_RMEM_ALLOC, ... }: u32 each, all bytes but
# drops (packets). ss -m: skmem:(r,rb,t,tb,f,w,o,bl,d).
SK_MEMINFO_FIELDS = ("rmem_alloc", "rcvbuf", "wmem_alloc", "sndbuf", "fwd_alloc", "wmem_queued",
                     "optmem", "backlog", "drops")
SS_SKMEM_LABELS = ("r", "rb", "t", "tb", "f", "w", "o", "bl", "d")


class SkMemInfo(_Record):
    """``INET_DIAG_SKMEMINFO``: ``u32[SK_MEMINFO_VARS]`` (net/core/sock.c ``sk_get_meminfo``).
    Bytes: rmem_alloc (received, unread), rcvbuf (SO_RCVBUF limit), wmem_alloc (sent, not yet
    freed by the device), sndbuf (limit), fwd_alloc, wmem_queued, optmem (options, filters),
    backlog (backlog queue, since 3.x); drops: packets dropped on this socket (4.x+). An older
    kernel's shorter array leaves the later fields ``None``."""

    __slots__ = SK_MEMINFO_FIELDS
    if TYPE_CHECKING:  # the slots of SK_MEMINFO_FIELDS, each None past an older kernel's array
        def __getattr__(self, name: str) -> int | None: ...


# include/uapi/linux/inet_diag.h enum { IDIAG_TIMER_OFF, ... }, with ss's names (tcp_timer_print).
TIMER_NAMES = ("off", "on", "keepalive", "timewait", "persist", "delack")


class Timer(_Record):
    """The socket's pending timer, from ``inet_diag_msg`` (net/ipv4/inet_diag.c
    ``inet_sk_diag_fill``):

    * ``kind`` 1 ``on``: retransmission, reordering or loss-probe timer; ``retrans`` is
      ``icsk_retransmits`` (timeouts in a row). A request socket (SYN_RECV) reports this kind
      with its SYN-ACK retransmissions.
    * 2 ``keepalive``: ``sk_timer``, which TCP uses for keepalive and for the FIN_WAIT_2 timeout;
      ``retrans`` is ``icsk_probes_out`` (unanswered probes).
    * 3 ``timewait``: a time-wait socket's remaining life (``inet_twsk_diag_fill``), retrans 0.
    * 4 ``persist``: zero-window probe timer; ``retrans`` is ``icsk_probes_out``.
    * 5 ``delack``: the delayed-ACK timer, reported by recent kernels when no timer above is
      pending (the uapi's IDIAG_TIMER_DELACK; ss prints ``delack``); ``retrans`` is 0.
    * 0 ``off``: nothing pending; ``expires_ms`` is 0.

    ``expires_ms``: milliseconds until it fires (``jiffies_delta_to_msecs``, 0 once overdue).
    """

    __slots__ = ("kind", "expires_ms", "retrans")
    if TYPE_CHECKING:
        kind: int
        expires_ms: int
        retrans: int

    @property
    def name(self) -> str:
        return TIMER_NAMES[self.kind] if self.kind < len(TIMER_NAMES) else "unknown"

    def ss_text(self) -> str:
        """ss ``-o``'s ``timer:(keepalive,7.2sec,0)``; empty when the timer is off, as ss."""
        if not self.kind:
            return ""
        return f"timer:({self.name},{format_ms_timer(self.expires_ms)},{self.retrans})"


def decode_timer(timer: int, expires: int, retrans: int) -> Timer:
    """``inet_diag_msg``'s ``idiag_timer``, ``idiag_expires``, ``idiag_retrans`` -> ``Timer``."""
    return Timer._of(timer, expires, retrans)


def format_ms_timer(ms: int) -> str:
    """ss's ``print_ms_timer``: ``7200 -> "7.200sec"``, ``950 -> "950ms"``, ``61000 -> "1min1sec"``,
    ``600000 -> "10min"`` (past 9 minutes seconds go, past 9 seconds milliseconds go)."""
    secs, msecs = divmod(ms, 1000)
    minutes, secs = divmod(secs, 60)
    text = ""
    if minutes:
        msecs = 0
        text = f"{minutes}min"
        if minutes > 9:
            secs = 0
    if secs:
        if secs > 9:
            msecs = 0
        text += f"{secs}{'.' if msecs else 'sec'}"
    if msecs:
        text += f"{msecs:03d}{'sec' if secs else 'ms'}"
    return text


class Extensions(_Record):
    """What the extension attributes of one socket message said; ``None``: not in the message
    (not asked for, or not given for this kind of socket).

    ``info``: ``TcpInfo``; ``meminfo``: ``MemInfo``; ``skmeminfo``: ``SkMemInfo``;
    ``congestion``: the algorithm's name (``"cubic"``); ``tos``: the IPv4 TOS byte (an IPv6
    socket's too: dual-stack sockets use it for IPv4 traffic); ``tclass``: the IPv6 traffic
    class; ``shutdown``: ``sk_shutdown`` bits (1 receive side shut, 2 send side shut);
    ``timer``: the ``Timer`` of the message (``decode_extensions`` leaves it ``None``, the dump's
    decoder fills it from ``inet_diag_msg``); ``mptcp``: ``mptcpinfo.MptcpInfo``, what
    ``INET_DIAG_INFO`` holds for an MPTCP socket (then ``info`` is ``None``).
    """

    __slots__ = ("info", "meminfo", "skmeminfo", "congestion", "tos", "tclass", "shutdown", "timer",
                 "mptcp")
    if TYPE_CHECKING:
        info: TcpInfo | None
        meminfo: MemInfo | None
        skmeminfo: SkMemInfo | None
        congestion: str | None
        tos: int | None
        tclass: int | None
        shutdown: int | None
        timer: Timer | None
        mptcp: MptcpInfo | None

    def dscp(self, ipv4: bool) -> int | None:
        """The DSCP (the TOS or traffic class byte >> 2; the low 2 bits are ECN) of the packets
        this socket sends: ``ipv4`` for an AF_INET socket or an IPv4-mapped peer."""
        value = self.tos if ipv4 or self.tclass is None else self.tclass
        return None if value is None else value >> 2


def decode_meminfo(payload: bytes) -> MemInfo | None:
    if len(payload) < _MEMINFO.size:
        return None
    return MemInfo._of(*_MEMINFO.unpack_from(payload))


def decode_skmeminfo(payload: bytes) -> SkMemInfo:
    count = min(len(payload) // 4, len(SK_MEMINFO_FIELDS))
    values = struct.unpack_from(f"={count}I", payload) + (None,) * (len(SK_MEMINFO_FIELDS) - count)
    return SkMemInfo._of(*values)


def decode_string(payload: bytes) -> str:
    """A NUL-terminated attribute (``nla_put_string``): ``b"cubic\\0" -> "cubic"``."""
    return payload.split(b"\0", 1)[0].decode("ascii", "replace")


def decode_u8(payload: bytes) -> int | None:
    return payload[0] if payload else None


def decode_extensions(attrs: dict[int, bytes], timer: Timer | None = None,
                      mptcp: bool = False) -> Extensions:
    """``{attribute type: payload}`` of one socket message -> ``Extensions``. Types we do not
    know (``INET_DIAG_PAD`` before a 64-bit aligned ``INET_DIAG_INFO``, ``INET_DIAG_CGROUP_ID``,
    ...) are ignored. ``mptcp``: the message is an MPTCP socket's, whose ``INET_DIAG_INFO`` is a
    ``struct mptcp_info``."""
    get = attrs.get
    info = get(INET_DIAG_INFO)
    mptcp_info = None
    if mptcp and info is not None:
        from pynetstat.linux.mptcpinfo import decode_mptcp_info

        mptcp_info, info = decode_mptcp_info(info), None
    meminfo = get(INET_DIAG_MEMINFO)
    skmeminfo = get(INET_DIAG_SKMEMINFO)
    cong = get(INET_DIAG_CONG)
    return Extensions._of(  # in slot order: info, meminfo, skmeminfo, congestion, tos, tclass, shutdown, timer, mptcp
        None if info is None else decode_tcp_info(info),
        None if meminfo is None else decode_meminfo(meminfo),
        None if skmeminfo is None else decode_skmeminfo(skmeminfo),
        None if cong is None else decode_string(cong),
        decode_u8(get(INET_DIAG_TOS, b"")),
        decode_u8(get(INET_DIAG_TCLASS, b"")),
        decode_u8(get(INET_DIAG_SHUTDOWN, b"")),
        timer,
        mptcp_info,
    )



def _maker(cls: type[Record]) -> Callable[..., Record]:
    """``make(v1, v2, ...)`` -> a record of ``cls``, values in slot order: a plain function that
    stores each slot (the ``_of`` loop costs 1 us a record, which at 200k sockets is 0.2 s)."""
    slots = cls.__slots__
    body = "".join(f"\n    r.{name} = {name}" for name in slots)
    namespace: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    exec(f"def make({', '.join(slots)}):\n    r = _new(_cls){body}\n    return r", namespace)
    make: Callable[..., Record] = namespace["make"]  # type: ignore[assignment]  # made by exec
    return make


_make_extensions = _maker(Extensions)
_make_timer = _maker(Timer)
_make_skmeminfo = _maker(SkMemInfo)
_make_meminfo = _maker(MemInfo)


def _same_headers(chunk: bytes, found: dict[int, tuple[int, int]], first: int, count: int, step: int) -> bool:
    """Does every message of the run have each attribute of the first message at the same
    offset, with the same header (length and type)? A byte column per header byte, compared in
    C, as tcpinfo_runs.info_columns does."""
    end = first + (count - 1) * step + 1
    for off, _size in found.values():
        for at in range(off - first - 4, off - first):
            column = chunk[first + at : end + at : step]
            if column.count(column[0]) != count:
                return False
    return True


def run_extensions(chunk: bytes, first: int, count: int, step: int, attrs_at: int,
                   found: dict[int, tuple[int, int]], timers: bytes, expires: list[int],
                   retrans: bytes, mptcp: bool = False) -> RunExtensions | None:
    """The ``Extensions`` of a run of ``count`` sock_diag messages ``step`` bytes apart (the
    first at ``first``), to be read attribute by attribute over the whole run: ``found`` is the
    first message's attributes (``netlink.parse_attrs`` from ``attrs_at``, its first attribute).
    The kernel writes the attributes of one dump's full sockets in the same order and sizes, so
    an attribute lies at the same offset in each message of a run (messages of one length);
    where that is not so (an extra attribute of the same size: ULP, MD5), ``None``: the caller
    decodes message by message. Timers come from the messages' own columns. ``mptcp``: the
    run is of MPTCP sockets (``INET_DIAG_INFO`` is ``struct mptcp_info``)."""
    if not _same_headers(chunk, found, first, count, step):
        return None
    return RunExtensions(chunk, first, count, step, found, timers, expires, retrans, mptcp)


if TYPE_CHECKING:  # what it is to mypy; at run time a plain class, no ABC to register with
    _ExtensionSequence = Sequence[Extensions]
else:
    _ExtensionSequence = object


class RunExtensions(_ExtensionSequence):
    """The ``Extensions`` of a run of messages (``run_extensions``), a sequence of them made
    only when one is asked for (``--json``, the -i times, a filter's ``take``): the text of
    ``--info`` reads the fields it shows straight from the buffer instead (``info_columns``,
    ``congestion``), with no record per socket. Once the records are made the buffer is let go."""

    __slots__ = ("_chunk", "_first", "_count", "_step", "_found", "_timers", "_expires",
                 "_retrans", "_records", "_mptcp", "_columns")

    def __init__(self, chunk: bytes, first: int, count: int, step: int,
                 found: dict[int, tuple[int, int]], timers: bytes, expires: list[int],
                 retrans: bytes, mptcp: bool = False) -> None:
        self._chunk, self._first, self._count, self._step = chunk, first, count, step
        self._found, self._timers, self._expires, self._retrans = found, timers, expires, retrans
        self._records: list[Extensions] | None = None
        self._mptcp = mptcp  # INET_DIAG_INFO is struct mptcp_info: no tcp_info columns
        self._columns: dict[str, Sequence[int | None]] = {}  # read by ``info_columns`` so far

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Extensions]:
        return iter(self.records())

    if TYPE_CHECKING:
        @overload
        def __getitem__(self, index: int) -> Extensions: ...
        @overload
        def __getitem__(self, index: slice) -> list[Extensions]: ...

    def __getitem__(self, index: int | slice) -> Extensions | list[Extensions]:
        return self.records()[index]

    def info_columns(self, names: tuple[str, ...], more: tuple[str, ...] = ()
                     ) -> dict[str, Sequence[int | None]] | None:
        """``{field: [value of each socket]}`` of ``struct tcp_info`` (``tcpinfo_runs.
        info_columns``: a field the kernel's struct lacks is ``None`` for each); ``{}`` when the
        run's messages carry no tcp_info (UDP, TIME_WAIT); ``None`` when the columns cannot be
        read (the records can). The columns read are kept: a later call for some of them reads
        nothing. ``more``: fields a later call will ask for, read in the same pass over the run
        (interval mode's rates read two counts, then the ``--info`` line the rest)."""
        if self._records is not None or self._mptcp:
            return None
        info = self._found.get(INET_DIAG_INFO)
        if info is None:
            return {}
        kept = self._columns
        missing = tuple(name for name in names + more if name not in kept)
        if missing:
            from pynetstat.linux.tcpinfo_runs import info_columns

            read = info_columns(self._chunk, info[0], self._count, self._step, info[1], missing)
            if read is None:
                return None
            kept.update(read)
        return {name: kept[name] for name in names}

    def congestion(self) -> list[str | None]:
        """The congestion control algorithm of each socket (``None``: not in the messages)."""
        found = self._found.get(INET_DIAG_CONG)
        if found is None:
            return [None] * self._count
        if self._records is not None:
            return [ext.congestion for ext in self._records]
        chunk, step, count = self._chunk, self._step, self._count
        off, size = found
        stop = self._first + count * step
        first = chunk[off : off + size]
        # The usual run: one algorithm for all, each byte of the payload the same in every
        # message (a byte column compared in C).
        if all(chunk[off + i : stop : step].count(byte) == count for i, byte in enumerate(first)):
            return [decode_string(first)] * count
        names: dict[bytes, str] = {}
        raw = [chunk[at : at + size] for at in range(off, stop, step)]
        for payload in set(raw):
            names[payload] = decode_string(payload)
        return list(map(names.__getitem__, raw))

    def records(self) -> list[Extensions]:
        """One ``Extensions`` per message, made on the first call."""
        if self._records is None:
            self._records = self._decode()
            self._chunk, self._columns = b"", {}
        return self._records

    def _decode(self) -> list[Extensions]:
        chunk, count, step, found = self._chunk, self._count, self._step, self._found
        stop = self._first + count * step
        none = (None,) * count

        def offsets(kind: int) -> range:
            return range(found[kind][0], stop, step)

        def payload_column(kind: int) -> Sequence[int | None]:
            off, size = found[kind]
            return list(chunk[off:stop:step]) if size else none

        infos: Sequence[TcpInfo | None]
        mptcps: Sequence[MptcpInfo | None]
        skmem: Sequence[SkMemInfo | None]
        mem: Sequence[MemInfo | None]
        infos = mptcps = none
        if INET_DIAG_INFO in found and self._mptcp:
            from pynetstat.linux.mptcpinfo import decode_mptcp_info

            size = found[INET_DIAG_INFO][1]
            mptcps = [decode_mptcp_info(chunk[at : at + size]) for at in offsets(INET_DIAG_INFO)]
        elif INET_DIAG_INFO in found:
            size = found[INET_DIAG_INFO][1]
            fill, reader = prefix_reader(size)
            unpacked = TcpInfo._unpacked
            if fill:
                infos = [unpacked(size, reader(chunk, at) + fill) for at in offsets(INET_DIAG_INFO)]
            else:
                infos = [unpacked(size, reader(chunk, at)) for at in offsets(INET_DIAG_INFO)]
        congs = self.congestion() if INET_DIAG_CONG in found else none
        skmem = none
        if INET_DIAG_SKMEMINFO in found:
            n = min(found[INET_DIAG_SKMEMINFO][1] // 4, len(SK_MEMINFO_FIELDS))
            read = struct.Struct(f"={n}I").unpack_from
            pad = (None,) * (len(SK_MEMINFO_FIELDS) - n)
            skmem = [_make_skmeminfo(*read(chunk, at), *pad) for at in offsets(INET_DIAG_SKMEMINFO)]
        mem = none
        if INET_DIAG_MEMINFO in found and found[INET_DIAG_MEMINFO][1] >= _MEMINFO.size:
            mem = [_make_meminfo(*_MEMINFO.unpack_from(chunk, at)) for at in offsets(INET_DIAG_MEMINFO)]
        tos = payload_column(INET_DIAG_TOS) if INET_DIAG_TOS in found else none
        tclass = payload_column(INET_DIAG_TCLASS) if INET_DIAG_TCLASS in found else none
        shutdown = payload_column(INET_DIAG_SHUTDOWN) if INET_DIAG_SHUTDOWN in found else none
        timer_records = list(map(_make_timer, self._timers, self._expires, self._retrans))
        return list(map(_make_extensions, infos, mem, skmem, congs, tos, tclass, shutdown,
                        timer_records, mptcps))

