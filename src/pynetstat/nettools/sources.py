"""What the net-tools face reads from the kernel, through the collectors and decoders of linux/.

Internet sockets come from ``linux.sockets.iter_batches`` (sock_diag, else /proc/net), the same
column batches the Windows face prints. What net-tools shows beyond them is read here, kept
small so that it can move into the kind table (kinds.py) when UNIX and RAW become rows there:

* RAW sockets: raw_diag (``linux.rawdiag``), else /proc/net/raw[6] (``procfs_other.parse_raw``).
* UNIX sockets: /proc/net/unix, the only source of net-tools' RefCnt and Flags columns
  (unix_diag has neither).
* Timers (``-o``): ``idiag_timer``, ``idiag_expires``, ``idiag_retrans`` of the same inet_diag
  messages the batches were decoded from (kept, then walked again by ``diagmsg``).
* Multicast memberships (``-g``): /proc/net/igmp and /proc/net/igmp6.
* Program names (``-p``): net-tools' "PID/argv[0]", from the one fd walk (``linux.owners``).
"""

from __future__ import annotations

from pynetstat.kinds import ALL_STATES, BY_NAME
from pynetstat.linux.procfs import ProcFS
from pynetstat.linux.sockets import SourceLog, iter_batches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import TypeVar

    from pynetstat.linux.diagrecords import RawSocket
    from pynetstat.linux.netlink import NetlinkSource, Reply, Request
    from pynetstat.linux.owner_filter import OwnerSelect
    from pynetstat.linux.owners import OwnerMap
    from pynetstat.model.sockets import ScanReport, SocketBatch
    from pynetstat.nettools.run import Run
    from pynetstat.select import Selection

    # (protocol, family) -> the ends of the sockets an owner filter keeps (owner_filter.py)
    Ends = Mapping[tuple[str, int], list[tuple[str, int, str | None, int]]]
    Group = tuple[str, int, str]  # a multicast membership: (device, users, group)
    Timers = dict[int, tuple[int, float, int, int]]  # cookie -> (timer, seconds, retrans, probes)
    Other = TypeVar("Other", "RawSocket", "UnixLine")  # a socket that is not TCP or UDP


class _Keeping:
    """A netlink source that keeps the buffers of each dump it answers, so that the timer fields
    (which the column batches do not hold) can be read from the same messages afterwards."""

    def __init__(self, netlink: NetlinkSource):
        self.netlink = netlink
        self.kept: dict[str, tuple[int, list[bytes]]] = {}

    def dump(self, request: Request) -> Reply:
        from pynetstat.linux.netlink import Reply

        reply = self.netlink.dump(request)
        chunks: list[bytes] = []
        self.kept[request.key] = (reply.seq, chunks)

        def keep() -> Iterator[bytes]:
            for chunk in reply.chunks:
                chunks.append(bytes(chunk))
                yield chunk
        return Reply(reply.seq, keep())

    def close(self) -> None:
        """The run closes the source this one wraps (a netlink source has ``close``)."""


def inet_batches(kinds: list[str], families: tuple[int, ...], netlink: NetlinkSource | None,
                 proc: ProcFS, log: SourceLog, selection: Selection | None = None,
                 ends: Ends | None = None) -> Iterator[SocketBatch]:
    """Batches of every socket of ``kinds`` ("tcp", "udp") and ``families``, in net-tools' order
    (tcp, tcp6, udp, udp6). Every state: net-tools picks servers by the peer, not the state.
    ``selection`` and ``ends``: a filter's, pushed into the kernel's request and checked on every
    batch by ``iter_batches``, as for the Windows face."""
    states = ALL_STATES if selection is None else selection.request_states(ALL_STATES)
    listed = [(BY_NAME[kind + ("6" if family == 6 else "")], states)
              for kind in kinds for family in families]
    return iter_batches(listed, netlink, proc, log, selection, ends)


# net/ipv4/inet_diag.c timers, as /proc/net/tcp (get_tcp4_sock) numbers them for net-tools:
# 1 retransmit ("on"), 2 keepalive, 3 timewait, 4 zero-window probe ("probe"). The delayed-ACK
# timer (5) is not one /proc shows: "off".
_PROC_TIMER = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 0}


def timers(keeping: _Keeping) -> Timers:
    """``cookie -> (timer, seconds, retransmits, probes)`` for every inet_diag message kept.

    /proc/net/tcp prints ``icsk_retransmits`` and ``icsk_probes_out`` apart; inet_diag gives
    one of them in ``idiag_retrans``: retransmits for the "on" timer, probes for keepalive and
    the zero-window probe (``inet_sk_diag_fill``)."""
    import struct

    from pynetstat.linux.diagmsg import cookie, socket_messages
    from pynetstat.linux.netlink import DumpStats, Reply

    head = struct.Struct("=BBBB")
    expires = struct.Struct("=I")
    found: Timers = {}
    for key, (seq, chunks) in keeping.kept.items():
        family = 10 if key.endswith("6") else 2
        try:
            for buf, off, _length in socket_messages(Reply(seq, iter(chunks)), DumpStats(), key,
                                                     family, 72):
                _family, _state, timer, retrans = head.unpack_from(buf, off)
                ms = expires.unpack_from(buf, off + 52)[0]
                kind = _PROC_TIMER.get(timer, timer)
                retransmits, probes = (retrans, 0) if kind == 1 else (0, retrans if kind else 0)
                found[cookie(buf, off + 44)] = (kind, ms / 1000 if kind else 0.0, retransmits,
                                                probes)
        except Exception:  # a dump that broke off: its sockets show no timer  # noqa: BLE001
            continue
    return found


def raw_sockets(families: tuple[int, ...], netlink: NetlinkSource | None, proc: ProcFS,
                notes: list[str]) -> list[RawSocket]:
    """RAW sockets of each family: raw_diag, else /proc/net/raw[6]; a note when neither."""
    from pynetstat.errors import BackendUnavailable
    from pynetstat.linux.netlink import DumpStats
    from pynetstat.linux.procfs_other import parse_raw
    from pynetstat.linux.rawdiag import build_request, decode_dump

    found: list[RawSocket] = []
    for family in families:
        try:
            if netlink is None:
                raise BackendUnavailable("netlink disabled")
            found += list(decode_dump(netlink.dump(build_request(family)), DumpStats(), family))
            continue
        except (BackendUnavailable, OSError):
            pass
        rel = "net/raw" + ("6" if family == 6 else "")
        try:
            found += parse_raw(proc.read_text(rel), proc.path(rel), family, [], proc.byteorder)
        except FileNotFoundError:
            continue
        except OSError as e:
            notes.append(f"cannot read {proc.path(rel)}: {e.strerror or e}")
    return found


class UnixLine:
    """One line of /proc/net/unix, the fields net-tools prints (af_unix.c ``unix_seq_show``)."""

    __slots__ = ("refcnt", "proto", "flags", "type", "state", "inode", "path")

    def __init__(self, refcnt: int, proto: int, flags: int, type: int, state: int, inode: int,
                 path: bytes):
        self.refcnt, self.proto, self.flags, self.type = refcnt, proto, flags, type
        self.state, self.inode, self.path = state, inode, path


def parse_unix_lines(data: bytes) -> list[UnixLine]:
    """``b"...: 00000002 00000000 00010000 0001 01 21925 /run/a.sock"`` -> refcount 2, flags
    0x10000 (listening), type 1, socket state 1, inode 21925, path ``b"/run/a.sock"``.

    As net-tools reads it (``sscanf("%p: %lX %lX %lX %X %X %lu %s")``): the path ends at the first
    blank, and a line that does not hold the six numbers (the rest of a name that holds a
    newline) is skipped.
    """
    rows = []
    for line in data.split(b"\n")[1:]:
        parts = line.split(None, 7)
        if len(parts) < 7 or not parts[0].endswith(b":"):
            continue
        try:
            refcnt, proto, flags, type_, state = (int(p, 16) for p in parts[1:6])
            inode = int(parts[6])
        except ValueError:
            continue
        path = parts[7].split(None, 1)[0] if len(parts) == 8 and parts[7].strip() else b""
        rows.append(UnixLine(refcnt, proto, flags, type_, state, inode, path))
    return rows


def unix_lines(proc: ProcFS, notes: list[str]) -> list[UnixLine]:
    try:
        return parse_unix_lines(proc.read_bytes("net/unix"))
    except OSError as e:
        notes.append(f"cannot read {proc.path('net/unix')}: {e.strerror or e}")
        return []


def parse_igmp(text: str) -> list[Group]:
    """/proc/net/igmp -> ``[(device, users, group), ...]``; the group as numeric text.

    ``"1\\tlo        :     1      V3\\n\\t\\t\\t\\t010000E0     1 0:00000000\\t\\t0"``
    -> ``[("lo", 1, "224.0.0.1")]`` (the address is the u32 in host order, printed by %X).
    """
    import socket
    import struct
    import sys

    order = "<I" if sys.byteorder == "little" else ">I"
    rows: list[Group] = []
    device: str | None = None
    for line in text.split("\n")[1:]:
        if not line.strip():
            continue
        if not line[0].isspace():
            device = line.split(None, 1)[-1].rsplit(":", 1)[0].strip()
            continue
        fields = line.split()
        if device is None or len(fields) < 2:
            continue
        group = socket.inet_ntop(socket.AF_INET, struct.pack(order, int(fields[0], 16)))
        rows.append((device, int(fields[1]), group))
    return rows


def parse_igmp6(text: str) -> list[Group]:
    """/proc/net/igmp6 -> ``[(device, users, group), ...]``:
    ``"1    lo    ff020000000000000000000000000001     1 0000000C 0"`` -> ``("lo", 1, "ff02::1")``.
    """
    import socket

    rows: list[Group] = []
    for line in text.split("\n"):
        fields = line.split()
        if len(fields) < 4:
            continue
        group = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[2]))
        rows.append((fields[1], int(fields[3]), group))
    return rows


def memberships(families: tuple[int, ...], proc: ProcFS, notes: list[str]) -> list[Group]:
    rows: list[Group] = []
    for family, rel, parse in ((4, "net/igmp", parse_igmp), (6, "net/igmp6", parse_igmp6)):
        if family not in families:
            continue
        try:
            rows += parse(proc.read_text(rel))
        except FileNotFoundError:
            continue
        except OSError as e:
            notes.append(f"cannot read {proc.path(rel)}: {e.strerror or e}")
    return rows


class Programs:
    """``inode -> "PID/name"`` as net-tools prints it: the lowest PID holding the socket, and the
    first word of its command line (its basename when it is a path), bytes outside printable
    ASCII as ``.``, cut to 19 characters (net-tools' ``char finbuf[20]``)."""

    def __init__(self, proc_root: str, owners: OwnerMap | None = None):
        """``owners``: the ``OwnerMap`` an owner filter's walk made (its processes only, as the
        Windows face shows them); without one, every process's fd table is walked."""
        from pynetstat.linux.owners import scan_owners

        self.proc_root = proc_root
        self.owners = scan_owners(proc_root) if owners is None else owners
        self.names: dict[int, str] = {}

    @property
    def report(self) -> ScanReport:
        return self.owners.report

    def __call__(self, inode: int) -> str:
        pids = self.owners.pids(inode) if inode else ()
        if not pids:
            return "-"
        return self._name(pids[0])

    def column(self, inodes: Sequence[int]) -> list[str]:
        """``self(inode)`` for a column: one dict lookup per socket; only sockets that several
        processes hold go through ``pids`` (lowest PID)."""
        first, more = self.owners.first, self.owners.more
        by_pid: dict[int | None, str] = {None: "-"}
        for pid in set(map(first.get, inodes)):
            if pid is not None:
                by_pid[pid] = self._name(pid)
        cells = list(map(by_pid.__getitem__, map(first.get, inodes)))
        if more and not more.keys().isdisjoint(inodes):
            cells = [self(inode) if inode in more else cell for inode, cell in zip(inodes, cells)]
        return cells

    def _name(self, pid: int) -> str:
        name = self.names.get(pid)
        if name is None:
            name = self.names[pid] = f"{pid}/{self._argv0(pid)}"[:19]
        return name

    def _argv0(self, pid: int) -> str:
        from pynetstat.linux.procfs import read_file

        try:
            raw = read_file(f"{self.proc_root}/{pid}/cmdline")[:511]
        except OSError:
            raw = b""
        first = raw.split(b"\0", 1)[0]
        text = "".join(chr(c) if 32 <= c <= 126 else "." for c in first)
        if text.startswith("/"):
            text = text.rsplit("/", 1)[1]
        return text


# netstat.c prg_cache_load, word for word
NOT_ALL = ("(Not all processes could be identified, non-owned process info\n"
           " will not be shown, you would have to be root to see it all.)\n")


# /proc/net/unix's socket state and flags -> the state unix_diag reports (sk_state, TCP's
# numbers), which --state matches: a listener LISTEN, a connected socket ESTABLISHED, a
# connecting one SYN_SENT, the others CLOSE (as ss -x shows them).
_SS_UNCONNECTED, _SS_CONNECTING, _SS_CONNECTED, _SO_ACCEPTCON = 1, 2, 3, 1 << 16
_UNIX_TCP_STATE = {_SS_CONNECTING: 2, _SS_CONNECTED: 1}


def unix_state(line: UnixLine) -> int:
    """``UnixLine`` -> the TCP state number ``--state`` sees: 10 (LISTEN), 1, 2 or 7 (CLOSE)."""
    if line.state == _SS_UNCONNECTED and line.flags & _SO_ACCEPTCON:
        return 10
    return _UNIX_TCP_STATE.get(line.state, 7)


class Filtered:
    """A filter (select.py) applied to what the face lists: TCP and UDP through ``iter_batches``
    (states, ports, addresses, interfaces and users in the kernel's request, then on every
    batch) and the owner walk (``OwnerSelect``); RAW and UNIX sockets by the conditions that
    mean something for them, as for any kind that is not an inet one in the Windows face
    (docs/filters.md, "Socket kinds"): with a condition on ports, addresses, interfaces or
    users they are not listed; states and owners keep them or not."""

    def __init__(self, selection: Selection | None, owner_select: OwnerSelect | None):
        self.selection = selection
        self.owner_select = owner_select

    @property
    def ends(self) -> Ends | None:
        return None if self.owner_select is None else self.owner_select.ends

    def batches(self, batches: Iterator[SocketBatch]) -> Iterator[SocketBatch]:
        if self.owner_select is None:
            return batches
        return filter(None, map(self.owner_select.select, batches))

    def lists_others(self) -> bool:
        """Are RAW and UNIX sockets listed at all?"""
        return self.selection is None or not self.selection.column_terms

    def others(self, sockets: list[Other], states: list[int]) -> list[Other]:
        """The RAW or UNIX sockets (``states``: each one's TCP state number) that meet the
        states and owner conditions."""
        if self.selection is not None:
            mask = self.selection.states
            sockets = [s for s, state in zip(sockets, states) if mask >> state & 1]
        if self.owner_select is not None and sockets:
            sockets = [s for s, kept in zip(sockets, self.owner_select.keeps(
                [s.inode for s in sockets])) if kept]
        return sockets


def filtered(session: Run, log: SourceLog) -> Filtered:
    """The run's filter bound to this display's interfaces, and its owner walk."""
    filt = session.opts.filter
    if filt is None:
        return Filtered(None, None)
    from pynetstat.linux.connections import bind_filter

    selection = bind_filter(filt, session.netlink, log)
    owner_select = None
    if selection.owner_terms:
        from pynetstat.linux.owner_filter import OwnerSelect

        owner_select = OwnerSelect(session.env.proc_root, selection.owner_terms)
    return Filtered(selection, owner_select)


def gather(session: Run, notes: list[str]
           ) -> tuple[list[SocketBatch], list[RawSocket], list[Group] | None, list[UnixLine] | None,
                      Programs | None, Timers | None]:
    """The sockets the options select: ``(inet batches, raw sockets, groups, unix lines,
    programs, timers)``; inet batches as a list (names are looked up before printing)."""
    opts = session.opts
    kinds = opts.inet_kinds()
    log = SourceLog()
    chosen = filtered(session, log)
    programs: Programs | None = None
    if opts.programs:
        programs = Programs(session.env.proc_root, None if chosen.owner_select is None
                            else chosen.owner_select.owners)
    keeping = _Keeping(session.netlink) if opts.timers else None
    netlink: NetlinkSource = session.netlink if keeping is None else keeping
    inet = [k for k in kinds if k != "raw"]
    batches = list(chosen.batches(inet_batches(inet, opts.families, netlink, session.proc, log,
                                               chosen.selection, chosen.ends)))
    for name, why in log.fallback_reasons.items():
        if log.sources.get(name) not in ("netlink", "proc"):
            notes.append(f"{name}: {why}")
    raw: list[RawSocket] = []
    if "raw" in kinds and chosen.lists_others():
        raw = raw_sockets(opts.families, session.netlink, session.proc, notes)
        raw = chosen.others(raw, [sock.state for sock in raw])
    groups: list[Group] | None = None
    if opts.groups:
        groups = memberships(opts.families, session.proc, notes)
        if opts.filter is not None:
            from pynetstat.linux.links import kept_interfaces

            kept = kept_interfaces(opts.filter, session.netlink)
            groups = groups if kept is None else [g for g in groups if g[0] in kept]
    unix: list[UnixLine] | None = None
    if opts.lists_unix:
        unix = unix_lines(session.proc, notes) if chosen.lists_others() else []
        unix = chosen.others(unix, list(map(unix_state, unix)))
    notes.extend(log.filter_notes)
    found = None if keeping is None else timers(keeping)
    if programs is not None:
        notes.extend(owner_notes(programs.report))
    return batches, raw, groups, unix, programs, found


def owner_notes(report: ScanReport) -> list[str]:
    """net-tools' sentence when some owners are hidden, then what pynetstat knows of why."""
    reasons = []
    if report.denied:
        reasons.append(f"{report.denied} processes' fd tables could not be read (permission denied)")
    if report.hidepid:
        reasons.append(f"/proc is mounted {report.hidepid}: other users' processes are hidden")
    if not reasons:
        return []
    return [NOT_ALL, f"(pynetstat-netstat: {'; '.join(reasons)}.)\n"]
