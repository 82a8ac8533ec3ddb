"""Sockets from the best source available, one kind (kinds.py) at a time.

Order, per kind: sock_diag over netlink; if the kernel answers with an error (no diag module
for it, netlink refused) before the first socket, the matching /proc/net file. Which source served
each kind is recorded so the output can say so. Sockets are deduplicated by the kernel's
identity (inode, else cookie), never by the printed tuple: three SO_REUSEPORT listeners on one
port are three sockets.
"""

from __future__ import annotations

from itertools import chain, repeat

from pynetstat.errors import BackendUnavailable, NetlinkError
from pynetstat.kinds import in_states
from pynetstat.linux.netlink import DumpStats
from pynetstat.linux.procfs import parse_inet_file
from pynetstat.linux.sockdiag import (
    TCPDIAG_GETSOCK,
    AddressCache,
    both_families_request,
    decode_batches,
    request_for,
)
from pynetstat.model.sockets import (
    TCP_BOUND_INACTIVE,
    TCP_CLOSE,
    PacketSocketRecord,
    RawSocketRecord,
    SocketBatch,
    UnixSocketRecord,
    VsockSocketRecord,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
    from typing import Any, Protocol

    from pynetstat.errors import ParseError
    from pynetstat.kinds import SocketKind
    from pynetstat.linux.diagrecords import PacketSocket, PingSocket, RawSocket, UnixSocket
    from pynetstat.linux.netlink import NetlinkSource, Reply, Request
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.model.sockets import InetSocket, SocketBatch
    from pynetstat.select import Selection

    class ProcRecord(Protocol):
        """What ``_from_proc`` reads of a record a /proc parser gives."""

        @property
        def state(self) -> int: ...
        @property
        def identity(self) -> tuple[Any, ...]: ...

    # The shapes of the tables below: REQUESTS, DECODERS (called with reply, kind, stats and
    # cache, and an inet kind's with True after them for its extensions), PARSERS
    RequestMaker = Callable[[SocketKind, int, bytes | None, int], Request]
    Decoder = Callable[..., Iterable[SocketBatch]]
    Parser = Callable[[bytes, str, SocketKind, "SourceLog", str], Iterable[ProcRecord]]
    Select = Callable[[SocketBatch], SocketBatch | None]  # Selection.select
    # owner_filter.socket_ends: (protocol, family) -> the ends of the sockets the owners hold
    Ends = Mapping[tuple[str, int], list[tuple[str, int, str | None, int]]]

BATCH = 4096  # sockets a batch of the other kinds holds
_ENOENT = 2  # errno.ENOENT (the errno module is not imported for one constant)


def _inet_request(kind: SocketKind, states: int, program: bytes | None, ext: int = 0) -> Request:
    return request_for(kind, states, ext, program)


def _mptcp_request(kind: SocketKind, states: int, program: bytes | None, ext: int = 0) -> Request:
    """An MPTCP socket's ``INET_DIAG_INFO`` is ``struct mptcp_info`` (net/mptcp/mptcp_diag.c
    ``mptcp_diag_get_info``; the decoder reads it so: ``sockdiag.decode_batches`` for protocol
    "mptcp"), and it has no congestion algorithm (not asked for); the timer, memory and DSCP are
    an inet socket's."""
    from pynetstat.linux.diagext import EXT_CONG

    return request_for(kind, states, ext & ~EXT_CONG, program)


def _inet_diag(reply: Reply, kind: SocketKind, stats: DumpStats, cache: AddressCache,
               extensions: bool = False) -> Iterator[SocketBatch]:
    return decode_batches(reply, kind.protocol, kind.family, stats, cache, extensions=extensions)


def _inet_proc(data: bytes, path: str, kind: SocketKind, log: SourceLog, byteorder: str
               ) -> Iterator[InetSocket]:
    return parse_inet_file(data.decode("ascii", "replace"), path, kind.protocol, kind.family,
                           log.parse_errors, byteorder)


# --- the other kinds: their linux/ decoders give diagrecords, made into the model's records ---

def _unix_request(kind: SocketKind, states: int, program: bytes | None,
                  ext: int = 0) -> Request:
    from pynetstat.linux.unixdiag import LISTING_SHOW, build_request

    return build_request(states, LISTING_SHOW)


def _unix_table_request(kind: SocketKind, states: int, program: bytes | None,
                        ext: int = 0) -> Request:
    """What the text table shows of a UNIX socket: no queues, no uid (``TABLE_ONLY``)."""
    from pynetstat.linux.unixdiag import TABLE_SHOW, build_request

    return build_request(states, TABLE_SHOW)


UNNAMED = (None, None)  # the (path, abstract) of an unbound socket


def _unix_diag(reply: Reply, kind: SocketKind, stats: DumpStats, cache: AddressCache
               ) -> Iterator[SocketBatch]:
    from pynetstat.linux.unixdiag import LISTING_SHOW

    return _unix_listing(reply, kind, stats, LISTING_SHOW)


def _unix_table_diag(reply: Reply, kind: SocketKind, stats: DumpStats, cache: AddressCache
                     ) -> Iterator[SocketBatch]:
    from pynetstat.linux.unixdiag import TABLE_SHOW

    return _unix_listing(reply, kind, stats, TABLE_SHOW)


def _unix_listing(reply: Reply, kind: SocketKind, stats: DumpStats, show: int
                  ) -> Iterator[SocketBatch]:
    """The whole dump read (a socket's peer may come after it), then its rows a batch at a
    time, each socket with its peer's name: the dump's dict of named sockets looked up by the
    peer column (``map``, in C)."""
    from operator import itemgetter  # here: a listing without UNIX sockets imports no more

    from pynetstat.linux.unixdiag import decode_listing

    listing = decode_listing(reply, stats, show)
    name_of = listing.named
    batch = kind.batch
    for columns in listing.groups(BATCH):
        n = len(columns["inode"])
        peers = list(map(name_of.get, columns["peer"], repeat(UNNAMED)))  # 0, None: no peer
        yield batch(proto=kind.protocol, family=kind.family, peer_path=list(map(itemgetter(0), peers)),
                    peer_abstract=list(map(itemgetter(1), peers)), peer_owners=(None,) * n,
                    verified=(True,) * n, duplicate=(False,) * n, **columns)


def _unix_proc(data: bytes, path: str, kind: SocketKind, log: SourceLog, byteorder: str
               ) -> list[UnixSocketRecord]:
    from pynetstat.linux.procfs_other import parse_unix

    socks = parse_unix(data, path, log.parse_errors)
    forged = sorted({s.inode for s in socks if s.duplicate})
    if forged:
        shown = ", ".join(map(str, forged[:5])) + (", ..." if len(forged) > 5 else "")
        log.warnings.append(
            f"{path}: {len(forged)} inode(s) named on more than one line ({shown}): a socket "
            "name holding a forged line; those rows are marked DUPLICATE and cannot be believed")
    return _unix_records(socks)


def _unix_records(socks: list[UnixSocket]) -> list[UnixSocketRecord]:
    """UNIX records, each connected one with its peer's name (the peer is in the same dump)."""
    names = {s.inode: s for s in socks if s.name is not None and s.inode}
    out = []
    for s in socks:
        peer = names.get(s.peer) if s.peer else None
        out.append(UnixSocketRecord(
            proto="unix", family=0, state=s.state, inode=s.inode, uid=s.uid, cookie=s.cookie,
            recv_q=s.rqueue, send_q=s.wqueue, type=s.type, path=s.name, abstract=s.abstract,
            peer=s.peer, peer_path=None if peer is None else peer.name,
            peer_abstract=None if peer is None else peer.abstract, peer_owners=None,
            verified=s.verified, duplicate=s.duplicate))
    return out


def _raw_request(kind: SocketKind, states: int, program: bytes | None,
                 ext: int = 0) -> Request:
    from pynetstat.linux.rawdiag import build_request

    return build_request(kind.family, states)


def _raw_record(s: RawSocket | PingSocket, proto: str, port: int, ip_protocol: int
                ) -> RawSocketRecord:
    record: RawSocketRecord = RawSocketRecord(
        proto=proto, family=s.family, state=s.state, inode=s.inode, uid=s.uid,
        cookie=getattr(s, "cookie", None), recv_q=s.rqueue, send_q=s.wqueue,
        ip_protocol=ip_protocol, local_address=s.local_address, local_port=port,
        remote_address=s.remote_address, scope=getattr(s, "ifindex", None) or 0,
        verified=s.verified)
    return record


def _raw_diag(reply: Reply, kind: SocketKind, stats: DumpStats, cache: AddressCache
              ) -> Iterator[SocketBatch]:
    from pynetstat.linux.rawdiag import decode_dump

    return _batches(kind, [_raw_record(s, "raw", s.protocol, s.protocol)
                           for s in decode_dump(reply, stats, kind.family)])


def _raw_proc(data: bytes, path: str, kind: SocketKind, log: SourceLog, byteorder: str
              ) -> list[RawSocketRecord]:
    from pynetstat.linux.procfs_other import parse_raw

    return [_raw_record(s, "raw", s.protocol, s.protocol)
            for s in parse_raw(data.decode("ascii", "replace"), path, kind.family,
                               log.parse_errors, byteorder)]


def _ping_proc(data: bytes, path: str, kind: SocketKind, log: SourceLog, byteorder: str
               ) -> list[RawSocketRecord]:
    from pynetstat.linux.procfs_other import parse_ping

    icmp = 1 if kind.family == 4 else 58  # IPPROTO_ICMP, IPPROTO_ICMPV6
    return [_raw_record(s, "icmp", s.ident, icmp)
            for s in parse_ping(data.decode("ascii", "replace"), path, kind.family,
                                log.parse_errors, byteorder)]


_PACKET_STATE = 7  # packet sockets have no connection state: TCP_CLOSE, as the kernel holds it


def _packet_request(kind: SocketKind, states: int, program: bytes | None,
                    ext: int = 0) -> Request:
    from pynetstat.linux.packetdiag import build_request

    return build_request()


def _packet_record(s: PacketSocket) -> PacketSocketRecord:
    record: PacketSocketRecord = PacketSocketRecord(
        proto="packet", family=0, state=_PACKET_STATE, inode=s.inode, uid=s.uid,
        cookie=s.cookie, recv_q=s.rmem, send_q=None, type=s.type, ethertype=s.protocol,
        scope=s.ifindex or 0, promiscuous=s.promiscuous, fanout=s.fanout, rx_ring=s.rx_ring,
        tx_ring=s.tx_ring, verified=s.verified)
    return record


def _packet_diag(reply: Reply, kind: SocketKind, stats: DumpStats, cache: AddressCache
                 ) -> Iterator[SocketBatch]:
    from pynetstat.linux.packetdiag import decode_dump

    return _batches(kind, list(map(_packet_record, decode_dump(reply, stats))))


def _packet_proc(data: bytes, path: str, kind: SocketKind, log: SourceLog, byteorder: str
                 ) -> list[PacketSocketRecord]:
    from pynetstat.linux.procfs_other import parse_packet

    return list(map(_packet_record, parse_packet(data.decode("ascii", "replace"), path,
                                                 log.parse_errors)))


def _vsock_request(kind: SocketKind, states: int, program: bytes | None, ext: int = 0) -> Request:
    from pynetstat.linux.vsockdiag import build_request

    return build_request(states)


def _vsock_diag(reply: Reply, kind: SocketKind, stats: DumpStats, cache: AddressCache
                ) -> Iterator[SocketBatch]:
    from pynetstat.linux.vsockdiag import decode_dump

    return _batches(kind, [
        VsockSocketRecord(proto="vsock", family=0, state=s.state, inode=s.inode, uid=None,
                          cookie=s.cookie, recv_q=None, send_q=None, type=s.type,
                          local_cid=s.local_cid, local_port=s.local_port,
                          remote_cid=s.remote_cid, remote_port=s.remote_port)
        for s in decode_dump(reply, stats)])


def _sctp_diag(reply: Reply, kind: SocketKind, stats: DumpStats, cache: AddressCache,
               extensions: bool = False) -> Iterator[SocketBatch]:
    """Not decoded yet: sctp_diag (net/sctp/diag.c) sends each endpoint in TCP's state numbering,
    then each of its associations in SCTP's own (``enum sctp_state``), with every address in the
    INET_DIAG_LOCALS and INET_DIAG_PEERS attributes. The request is sent and its reply read to
    the end all the same, so that a kernel without the handler (the reply's NLMSG_DONE carries
    ENOENT, raised here as ``NetlinkError``) is told apart from one whose answer is not decoded."""
    from pynetstat.linux.netlink import iter_dump

    for _ in iter_dump(reply, DumpStats(), f"sock_diag {kind.name}", whole=True):
        pass
    raise BackendUnavailable(f"sock_diag {kind.name}: pynetstat does not decode sctp_diag "
                             "replies yet")


def _batches(kind: SocketKind, records: list[RawSocketRecord] | list[PacketSocketRecord]
             | list[VsockSocketRecord]) -> Iterator[SocketBatch]:
    for start in range(0, len(records), BATCH):
        yield kind.batch.from_sockets(kind.protocol, kind.family, records[start : start + BATCH])


# The requests, decoders and /proc parsers that kinds.py names: a new kind registers its own here.
# A decoder's name is the kernel module that answers its request ("mptcp_diag": MPTCP sockets
# are inet ones, read as TCP's are).
REQUESTS: dict[str, RequestMaker] = {"inet_diag": _inet_request, "unix_diag": _unix_request, "raw_diag": _raw_request,
            "packet_diag": _packet_request, "mptcp_diag": _mptcp_request,
            "vsock_diag": _vsock_request, "sctp_diag": _inet_request,
            "unix_diag_table": _unix_table_request}
DECODERS: dict[str, Decoder] = {"inet_diag": _inet_diag, "unix_diag": _unix_diag, "raw_diag": _raw_diag,
            "packet_diag": _packet_diag, "mptcp_diag": _inet_diag, "vsock_diag": _vsock_diag,
            "sctp_diag": _sctp_diag, "unix_diag_table": _unix_table_diag}
# The request and decoder a kind's are replaced by when the output is the text table alone
# (``iter_batches(table_only=True)``): those that ask the kernel for less than a record holds.
TABLE_ONLY = {"unix_diag": "unix_diag_table"}
PARSERS: dict[str, Parser] = {"inet": _inet_proc, "unix": _unix_proc, "raw": _raw_proc, "ping": _ping_proc,
           "packet": _packet_proc}


# Kinds that one dump serves together, by (first kind, second kind) names: the request of both
# (states, ext) and its message type. TCP's per-family dumps each walk the kernel's whole TCP
# table, every namespace's sockets, and skip the other family's and other namespaces' sockets;
# one TCPDIAG_GETSOCK dump walks it once (sockdiag.both_families_request). UDP's walks are of a
# table of its own, cheap by comparison (docs/netns.md, Speed): UDP keeps its two dumps.
JOINT = {("tcp", "tcp6"): (both_families_request, TCPDIAG_GETSOCK)}


class SourceLog:
    """Where each protocol's sockets came from, and what was lost on the way."""

    __slots__ = ("sources", "fallback_reasons", "missing", "netlink", "parse_errors",
                 "unreadable", "filter_notes", "notes", "warnings")

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}  # "tcp6" -> "netlink" | "proc" | "unavailable"
        self.fallback_reasons: dict[str, str] = {}  # "tcp6" -> why netlink was not used
        # "mptcp" -> "mptcp_diag": the kernel has no handler for the kind (it answered ENOENT)
        self.missing: dict[str, str] = {}
        self.netlink = DumpStats()
        self.parse_errors: list[ParseError] = []  # ParseError from /proc files
        self.unreadable: dict[str, str] = {}  # "/proc/net/tcp6" -> reason
        self.filter_notes: list[str] = []  # what a filter could not check on this source
        self.notes: list[str] = []  # what else could not be listed (-q on an old kernel)
        self.warnings: list[str] = []  # what a source says that cannot be believed (forged lines)


def iter_batches(listed: list[tuple[SocketKind, int]], netlink: NetlinkSource | None,
                 proc: ProcFS, log: SourceLog,
                 selection: Selection | None = None, ends: Ends | None = None,
                 ext: int | None = None, joint: bool = False, table_only: bool = False
                 ) -> Iterator[SocketBatch]:
    """Yield the sockets of each kind in order, as ``kinds.selection`` lists them: ``(kind,
    states)``, ``states`` a bit mask of kernel states (bit N = state N); for netlink it is pushed
    into the request, for /proc it is applied here, so both sources give the same rows.

    ``selection`` (a bound filter, select.py): its ports, addresses and interfaces go into the
    request of an inet kind as a bytecode program, so the kernel sends only what matches; then
    ``selection.select`` checks every batch of such a kind again, whatever its source (it is the
    whole filter for /proc and recordings). Other kinds are the caller's to choose
    (``linux/connections.py``): they pass through. ``ends``: ``{(protocol, family): [(local
    address, port, foreign address or None, port), ...]}``, every socket an owner filter can keep
    (``owner_filter.socket_ends``): the program asks for those alone. ``ext``: ``None`` for a
    plain listing; else the ``idiag_ext`` bits to ask for (``diagext.request_bits``), and every
    batch from sock_diag carries its ``extensions`` column (from /proc: none, and the log says so).
    ``table_only``: the output is the text table alone; a kind in ``TABLE_ONLY`` asks for what
    it shows (a UNIX socket's queues and uid are then None).
    """
    cache = AddressCache()
    batch: SocketBatch | None  # a batch as decoded, then what a filter kept of it
    joined = None  # the kind a joint dump has served already
    for at, (kind, states) in enumerate(listed):
        name = kind.name
        if kind is joined:
            continue
        seen = _Seen()
        yielded = False
        select = selection.select if selection is not None and kind.shape == "inet" else None
        if not kind.decoder:  # no kernel has a sock_diag handler for it: /proc is its source
            yield from _from_proc(proc, kind, states, log)
            continue
        pair = listed[at + 1] if joint and at + 1 < len(listed) else None
        shared = (_shared_program(selection, kind, pair[0])
                  if (pair is not None and (name, pair[0].name) in JOINT and pair[1] == states
                      and netlink is not None and ends is None) else None)
        if shared is not None:
            assert pair is not None and netlink is not None  # shared: both checked above
            inet_ext = ext if kind.shape == "inet" else None
            served = yield from _joint_dump((kind, pair[0]), states, netlink, log, cache,
                                            inet_ext, select, shared[0])
            if served:
                joined = pair[0]
                continue
        try:
            if netlink is None:
                raise BackendUnavailable("netlink disabled")
            program = None
            if select is not None or ends is not None:
                program = _program(selection, kind, None if ends is None
                                   else ends.get((kind.protocol, kind.family), []))
            # Extension groups (--info, --timers, --memory, -d) exist for inet sockets only.
            inet_ext = ext if kind.shape == "inet" else None
            decoder = TABLE_ONLY.get(kind.decoder, kind.decoder) if table_only else kind.decoder
            reply = netlink.dump(REQUESTS[decoder](kind, states, program, inet_ext or 0))
            batches = (DECODERS[decoder](reply, kind, log.netlink, cache) if inet_ext is None
                       else DECODERS[decoder](reply, kind, log.netlink, cache, True))
            bound = kind.shape == "inet" and kind.has_state and in_states(states, TCP_BOUND_INACTIVE)
            for batch in batches:
                kept = _kept(batch, bound, seen, states, select)
                if kept is not None:
                    yielded = True
                    yield kept
            log.sources[name] = "netlink"
            continue
        except (BackendUnavailable, OSError) as e:
            # OSError: a source is any object with dump(); one may let the OS's error through.
            log.fallback_reasons[name] = (str(e) if isinstance(e, BackendUnavailable)
                                          else f"sock_diag {name}: {e.strerror or e}")
            if isinstance(e, NetlinkError) and e.errno == _ENOENT and not yielded:
                # net/core/sock_diag.c, net/ipv4/inet_diag.c: no handler for the family or the
                # protocol (its module not built, not loadable, or the protocol absent)
                log.missing[name] = kind.decoder
            if yielded:
                # The dump broke off midway: keep what came, and say so rather than mix sources.
                log.sources[name] = "netlink (incomplete)"
                continue
        if select is None:
            yield from _from_proc(proc, kind, states, log)
            continue
        assert selection is not None  # select is its method
        if selection.needs_bound_device():
            log.filter_notes.append(
                f"{name}: read from {proc.path(kind.proc_file)}, which does not say which "
                "interface a socket is bound to: --interface matched by address only, and an "
                "address with a %ZONE matched nothing")
        for batch in _from_proc(proc, kind, states, log):
            batch = select(batch)
            if batch is not None:
                yield batch


def _kept(batch: SocketBatch, bound: bool, seen: _Seen, states: int,
          select: Select | None) -> SocketBatch | None:
    """What a listing keeps of a decoded batch: BOUND sockets told apart (``bound``: -q), sockets
    already yielded dropped (the cookie is the kernel's identity of a socket, unique and never 0
    in a dump), the states asked for, the filter's conditions (``select``)."""
    if bound:
        batch = _bound_inactive(batch)
    kept = _unseen(batch, batch.cookie, seen)
    if kept is not None:
        kept = _in_states(kept, states)
    if kept is not None and select is not None:
        kept = select(kept)
    return kept


def _shared_program(selection: Selection | None, first: SocketKind, second: SocketKind
                    ) -> tuple[bytes | None] | None:
    """The one filter program a dump of both kinds carries, in a 1-tuple (``(None,)``: no filter,
    or one too large for the kernel); ``None`` when the program differs by family (an address
    or an interface), so one dump cannot serve both. Ports and states compile to the same bytes
    for both families."""
    if selection is None or not selection.kernel_terms:
        return (None,)
    program = _program(selection, first, None)
    return (program,) if program == _program(selection, second, None) else None


def _joint_dump(kinds: tuple[SocketKind, SocketKind], states: int, netlink: NetlinkSource,
                log: SourceLog, cache: AddressCache, ext: int | None, select: Select | None,
                program: bytes | None = None
                ) -> Generator[SocketBatch, None, bool]:
    """Both ``kinds`` from one dump (``JOINT``), with ``program`` (the same for both) in the
    request: the first kind's batches as they come, then the second's. Returns ``False`` when
    the request was refused before any socket came (the caller asks for each kind alone); a
    dump that breaks off later keeps what came, and the log says both kinds are incomplete."""
    first, second = kinds
    make, msg_type = JOINT[(first.name, second.name)]
    held: list[SocketBatch] = []
    batch: SocketBatch | None
    got = False
    seen = _Seen()
    bound = first.has_state and in_states(states, TCP_BOUND_INACTIVE)
    stats = DumpStats()  # the log's only if the dump served: a refused one leaves no trace
    try:
        reply = netlink.dump(make(states, ext or 0, program))
        for batch in decode_batches(reply, first.protocol, 0, stats, cache,
                                    extensions=ext is not None, msg_type=msg_type):
            got = True
            batch = _kept(batch, bound, seen, states, select)
            if batch is None:
                continue
            if batch.family == first.family:
                yield batch
            else:
                held.append(batch)
        source = "netlink"
    except (BackendUnavailable, OSError) as e:
        if not got:
            return False
        source = "netlink (incomplete)"
        why = str(e) if isinstance(e, BackendUnavailable) else f"sock_diag tcp46: {e.strerror or e}"
        log.fallback_reasons[first.name] = log.fallback_reasons[second.name] = why
    log.sources[first.name] = log.sources[second.name] = source
    total = log.netlink
    total.malformed += stats.malformed
    total.foreign += stats.foreign
    total.messages += stats.messages
    total.interrupted = total.interrupted or stats.interrupted
    yield from held
    return True


def _program(selection: Selection | None, kind: SocketKind,
             ends: list[tuple[str, int, str | None, int]] | None) -> bytes | None:
    """The inet_diag bytecode of the selection (and the ends) for one kind; ``None``: none
    needed, or too large for an attribute (then ``select`` alone filters: the same rows, more of
    them sent). No end: a program that keeps nothing (the dump is still asked for, so that its
    source is known)."""
    terms = () if selection is None else selection.kernel_terms
    if not terms and ends is None:
        return None
    from pynetstat.linux.bytecode import TooLarge, compile_terms

    try:
        return compile_terms(terms, kind.family, ends)
    except TooLarge:
        return None


class _Seen:
    """The identities of the sockets of a kind yielded so far (``_unseen``): ``keys``, and the
    key column of each batch (held until a batch brings a key twice, to make the set again as
    it was before that batch)."""

    __slots__ = ("keys", "columns")

    def __init__(self) -> None:
        self.keys: set[object] = set()
        self.columns: list[Sequence[object]] | None = []  # None: check a batch before adding it


def _unseen(batch: SocketBatch, keys: Sequence[object], seen: _Seen) -> SocketBatch | None:
    """Drop sockets already yielded (a message the kernel or a recording repeated: a dump resumed
    after sockets were added ahead of it in a hash chain). The keys are added first and counted:
    the set grew by as many, all are new (as usual; a check before would cost as much again).
    Else the set is made again from the batches before, and from then on each batch is
    checked before it is added."""
    known = seen.keys
    if seen.columns is not None:
        before = len(known)
        known.update(keys)
        if len(known) - before == len(keys):
            seen.columns.append(keys)
            return batch
        known = seen.keys = set(chain.from_iterable(seen.columns))
        seen.columns = None
    elif known.isdisjoint(keys):
        before = len(known)
        known.update(keys)
        if len(known) - before == len(keys):
            return batch
        known.difference_update(keys)  # a key repeats within the batch: none was seen before
    keep = []
    for i, key in enumerate(keys):
        if key not in known:
            known.add(key)
            keep.append(i)
    return batch.take(keep) if keep else None


def _bound_inactive(batch: SocketBatch) -> SocketBatch:
    """A dump that asked for TCP_BOUND_INACTIVE (-q) reports those sockets in their own state,
    TCP_CLOSE: the kernel finds them in the bind hash and keeps only the ones that are closed and
    bound (net/ipv4/inet_diag.c ``inet_diag_dump_icsk``, Linux 6.8). No other dumped socket is
    CLOSE (a closed socket leaves the established and listening hashes), so each is BOUND."""
    if TCP_CLOSE in batch.state:
        batch.state = [TCP_BOUND_INACTIVE if s == TCP_CLOSE else s for s in batch.state]
    return batch


_LEFT_OUT: dict[int, bytes] = {}  # a mask -> a bytes.translate table: 1 at each state it leaves out


def _in_states(batch: SocketBatch, states: int) -> SocketBatch | None:
    """The sockets whose state is in the mask. A live kernel applies the mask itself; a replayed
    recording answers with whatever was asked for when it was recorded."""
    left_out = _LEFT_OUT.get(states)
    if left_out is None:
        left_out = _LEFT_OUT[states] = bytes(not in_states(states, s) for s in range(256))
    try:  # each state a byte (sk_state is a u8), 1 where the mask leaves it out: none, usually
        if 1 not in bytes(batch.state).translate(left_out):
            return batch
    except ValueError:  # a state past a byte (a forged /proc line): the set of them
        if all(in_states(states, state) for state in set(batch.state)):
            return batch
    keep = [i for i, state in enumerate(batch.state) if in_states(states, state)]
    return batch.take(keep) if keep else None


def _from_proc(proc: ProcFS, kind: SocketKind, states: int, log: SourceLog) -> Iterator[SocketBatch]:
    name, path = kind.name, kind.proc_file
    if not path:  # no /proc file lists this kind (MPTCP): without its diag module, nothing does
        log.sources[name] = "unavailable"
        return
    try:
        data = proc.read_bytes(path)
    except FileNotFoundError:
        log.sources[name] = "unavailable"  # e.g. a kernel without IPv6
        return
    except OSError as e:
        log.sources[name] = "unavailable"
        log.unreadable[proc.path(path)] = e.strerror or str(e)
        return
    log.sources[name] = "proc"
    sockets = [sock for sock in PARSERS[kind.proc_parser](data, proc.path(path), kind, log,
                                                          proc.byteorder)
               if in_states(states, sock.state)]
    # Without a cookie, the identity is the inode, or for inode 0 (TIME_WAIT) the tuple and state.
    seen = _Seen()
    for start in range(0, len(sockets), 4096):
        part = sockets[start : start + 4096]
        batch = _unseen(kind.batch.from_sockets(kind.protocol, kind.family, part),
                        tuple(s.identity for s in part), seen)
        if batch is not None:
            yield batch
