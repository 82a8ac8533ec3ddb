"""Sockets from the best source available, one kind (kinds.py) at a time.

Order, per kind: sock_diag over netlink; if the kernel answers with an error (no diag module
for it, netlink refused) before the first socket, the matching /proc/net file. Which source served
each kind is recorded so the output can say so. Sockets are deduplicated by the kernel's
identity (inode, else cookie), never by the printed tuple: three SO_REUSEPORT listeners on one
port are three sockets.
"""

from __future__ import annotations

from pynetstat.errors import BackendUnavailable
from pynetstat.kinds import in_states
from pynetstat.linux.netlink import DumpStats
from pynetstat.linux.procfs import parse_inet_file
from pynetstat.linux.sockdiag import AddressCache, decode_batches, request_for
from pynetstat.model.sockets import TCP_BOUND_INACTIVE, TCP_CLOSE, SocketBatch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pynetstat.kinds import SocketKind
    from pynetstat.select import Selection


def _inet_diag(reply, kind: SocketKind, stats: DumpStats, cache: AddressCache,
               extensions: bool = False):
    return decode_batches(reply, kind.protocol, kind.family, stats, cache, extensions=extensions)


def _inet_proc(text: str, path: str, kind: SocketKind, errors: list, byteorder: str):
    return parse_inet_file(text, path, kind.protocol, kind.family, errors, byteorder)


# The decoders and /proc parsers that kinds.py names: a new kind registers its own here.
DECODERS = {"inet_diag": _inet_diag}
PARSERS = {"inet": _inet_proc}


class SourceLog:
    """Where each protocol's sockets came from, and what was lost on the way."""

    __slots__ = ("sources", "fallback_reasons", "netlink", "parse_errors", "unreadable",
                 "filter_notes", "notes")

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}  # "tcp6" -> "netlink" | "proc" | "unavailable"
        self.fallback_reasons: dict[str, str] = {}  # "tcp6" -> why netlink was not used
        self.netlink = DumpStats()
        self.parse_errors: list = []  # ParseError from /proc files
        self.unreadable: dict[str, str] = {}  # "/proc/net/tcp6" -> reason
        self.filter_notes: list[str] = []  # what a filter could not check on this source
        self.notes: list[str] = []  # what else could not be listed (-q on an old kernel)


def iter_batches(listed: list[tuple[SocketKind, int]], netlink, proc, log: SourceLog,
                 selection: Selection | None = None, ends: Mapping | None = None,
                 ext: int | None = None) -> Iterator[SocketBatch]:
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
    """
    cache = AddressCache()
    for kind, states in listed:
        name = kind.name
        seen: set = set()
        yielded = False
        select = selection.select if selection is not None and kind.shape == "inet" else None
        try:
            if netlink is None:
                raise BackendUnavailable("netlink disabled")
            program = None
            if select is not None or ends is not None:
                program = _program(selection, kind, None if ends is None
                                   else ends.get((kind.protocol, kind.family), []))
            reply = netlink.dump(request_for(kind, states, ext or 0, program))
            batches = (DECODERS[kind.decoder](reply, kind, log.netlink, cache) if ext is None
                       else DECODERS[kind.decoder](reply, kind, log.netlink, cache, True))
            bound = kind.has_state and in_states(states, TCP_BOUND_INACTIVE)
            for batch in batches:
                if bound:
                    batch = _bound_inactive(batch)
                # The cookie is the kernel's identity of a socket, unique and never 0 in a dump.
                batch = _unseen(batch, batch.cookie, seen)
                if batch is not None:
                    batch = _in_states(batch, states)
                if batch is not None and select is not None:
                    batch = select(batch)
                if batch is not None:
                    yielded = True
                    yield batch
            log.sources[name] = "netlink"
            continue
        except (BackendUnavailable, OSError) as e:
            # OSError: a source is any object with dump(); one may let the OS's error through.
            log.fallback_reasons[name] = (str(e) if isinstance(e, BackendUnavailable)
                                          else f"sock_diag {name}: {e.strerror or e}")
            if yielded:
                # The dump broke off midway: keep what came, and say so rather than mix sources.
                log.sources[name] = "netlink (incomplete)"
                continue
        if select is None:
            yield from _from_proc(proc, kind, states, log)
            continue
        if selection.needs_bound_device():
            log.filter_notes.append(
                f"{name}: read from {proc.path(kind.proc_file)}, which does not say which "
                "interface a socket is bound to: --interface matched by address only, and an "
                "address with a %ZONE matched nothing")
        for batch in _from_proc(proc, kind, states, log):
            batch = select(batch)
            if batch is not None:
                yield batch


def _program(selection: Selection | None, kind: SocketKind, ends: list | None) -> bytes | None:
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


def _unseen(batch: SocketBatch, keys: tuple, seen: set) -> SocketBatch | None:
    """Drop sockets already yielded (a message the kernel or a recording repeated)."""
    if seen.isdisjoint(keys):
        before = len(seen)
        seen.update(keys)
        if len(seen) - before == len(keys):
            return batch
        seen.difference_update(keys)  # a key repeats within the batch: none was seen before
    keep = []
    for i, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
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


def _in_states(batch: SocketBatch, states: int) -> SocketBatch | None:
    """The sockets whose state is in the mask. A live kernel applies the mask itself; a replayed
    recording answers with whatever was asked for when it was recorded."""
    if all(in_states(states, state) for state in set(batch.state)):
        return batch
    keep = [i for i, state in enumerate(batch.state) if in_states(states, state)]
    return batch.take(keep) if keep else None


def _from_proc(proc, kind: SocketKind, states: int, log: SourceLog) -> Iterator[SocketBatch]:
    name, path = kind.name, kind.proc_file
    try:
        text = proc.read_text(path)
    except FileNotFoundError:
        log.sources[name] = "unavailable"  # e.g. a kernel without IPv6
        return
    except OSError as e:
        log.sources[name] = "unavailable"
        log.unreadable[proc.path(path)] = e.strerror or str(e)
        return
    log.sources[name] = "proc"
    sockets = [sock for sock in PARSERS[kind.proc_parser](text, proc.path(path), kind,
                                                          log.parse_errors, proc.byteorder)
               if in_states(states, sock.state)]
    # Without a cookie, the identity is the inode, or for inode 0 (TIME_WAIT) the tuple and state.
    seen: set = set()
    for start in range(0, len(sockets), 4096):
        part = sockets[start : start + 4096]
        batch = _unseen(SocketBatch.from_sockets(kind.protocol, kind.family, part),
                        tuple(s.identity for s in part), seen)
        if batch is not None:
            yield batch
