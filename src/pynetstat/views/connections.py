"""What a connection display says after its rows: the JSON trailer (``account``) and the stderr
notes (``notes``), both about what could not be seen. They read a collected ``ConnectionSet``,
never the kernel.
"""

from __future__ import annotations

from pynetstat.kinds import BY_NAME

# ``conns`` is a ``linux.connections.ConnectionSet`` once iterated; it is not imported, not even
# for annotations, so that views never depend on a collector: the protocols below say what of it
# (and of linux.allnetns.AllNamespaces, with --all-netns) the views read.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Protocol

    from pynetstat.model.netns import Discovery, NetNamespace
    from pynetstat.model.sockets import ScanReport
    from pynetstat.options import Options

    class _DumpCounts(Protocol):  # linux.netlink.DumpStats
        @property
        def malformed(self) -> int: ...
        @property
        def foreign(self) -> int: ...
        @property
        def interrupted(self) -> bool: ...

    class _Log(Protocol):  # linux.sockets.SourceLog
        @property
        def sources(self) -> Mapping[str, str]: ...
        @property
        def fallback_reasons(self) -> Mapping[str, str]: ...
        @property
        def missing(self) -> Mapping[str, str]: ...
        @property
        def unreadable(self) -> Mapping[str, str]: ...
        @property
        def netlink(self) -> _DumpCounts: ...
        @property
        def parse_errors(self) -> Sequence[object]: ...
        @property
        def filter_notes(self) -> Sequence[str]: ...
        @property
        def notes(self) -> Sequence[str]: ...
        @property
        def warnings(self) -> Sequence[str]: ...

    class _Owners(Protocol):  # linux.owners.OwnerMap
        @property
        def report(self) -> ScanReport: ...

    class Connections(Protocol):  # linux.connections.ConnectionSet, iterated
        @property
        def opts(self) -> Options: ...
        @property
        def log(self) -> _Log: ...
        @property
        def owners(self) -> _Owners | None: ...
        @property
        def unattributed(self) -> int: ...
        @property
        def closed(self) -> int: ...
        def unread_processes(self) -> dict[str, int]: ...

    class _Part(Protocol):  # linux.allnetns.NamespacePart (conns: None only for -e, -s, -r)
        @property
        def namespace(self) -> NetNamespace: ...
        @property
        def source(self) -> str: ...
        @property
        def why(self) -> str | None: ...
        @property
        def conns(self) -> Connections | None: ...

    class EveryNamespace(Protocol):  # linux.allnetns.AllNamespaces, iterated
        @property
        def parts(self) -> Sequence[_Part]: ...
        @property
        def discovery(self) -> Discovery: ...
        @property
        def unread(self) -> Sequence[tuple[NetNamespace, str]]: ...


def account(conns: Connections | EveryNamespace) -> dict[str, object]:
    """What the JSON document says after its rows: sources, and everything that was not seen.
    With --all-netns, that of each namespace (``namespaces``), and the namespaces not read."""
    parts = getattr(conns, "parts", None)
    if parts is None:
        return _account(conns)  # type: ignore[arg-type]  # no parts: one ConnectionSet
    from pynetstat.model.netns_labels import netns_json

    found = conns.discovery  # type: ignore[union-attr]  # parts: AllNamespaces
    return {
        "namespaces": [{"netns": netns_json(p.namespace), "source": p.source, "why": p.why,
                        **_account(p.conns)} for p in parts],
        "unread_namespaces": [{"netns": netns_json(ns), "why": why} for ns, why in conns.unread],  # type: ignore[union-attr]  # parts: AllNamespaces
        "netns_discovery": {"denied": found.denied, "vanished": found.vanished,
                            "notes": list(found.notes)},
    }


def _account(conns: Connections) -> dict[str, object]:
    log = conns.log
    report = conns.owners.report if conns.owners is not None else None
    return {
        "sources": dict(log.sources),
        "fallback_reasons": dict(log.fallback_reasons),
        "netlink": {"malformed": log.netlink.malformed, "foreign": log.netlink.foreign,
                    "interrupted": log.netlink.interrupted},
        "parse_errors": [str(e) for e in log.parse_errors],
        "unreadable": dict(log.unreadable),
        "owner_scan": None if report is None else {
            "processes": report.processes, "denied": report.denied,
            "vanished": report.vanished, "fds_unreadable": report.fds_unreadable,
            "unattributed_sockets": conns.unattributed,
            "closed_during_scan": conns.closed,
            "unattributed_reason": unattributed_reason(conns),
            "unreadable_processes": sum(conns.unread_processes().values()),
        },
    }


def unattributed_reason(conns: Connections) -> str | None:
    """Why the sockets that have no owner and are still open have none: ``"permission
    denied"``, ``"hidepid=invisible"``, or ``"not held by a visible process"``; None when every
    socket with an inode has one, or closed during the scan (``conns.closed``)."""
    if conns.owners is None or conns.unattributed <= conns.closed:
        return None
    report = conns.owners.report
    if report.denied:
        return "permission denied"
    return report.hidepid or "not held by a visible process"


def notes(conns: Connections | EveryNamespace, namespaces: bool = True) -> list[str]:
    """The stderr lines that say what could not be seen: never silent, each said once. With
    --all-netns, each namespace's, prefixed with its label, then the owner notes once for all;
    ``namespaces``: with the lines on the namespaces not read (interval mode says those apart,
    one per namespace: ``netns_labels.namespace_note_items``)."""
    parts = getattr(conns, "parts", None)
    if parts is None:
        return _source_notes(conns) + _owner_notes(conns, conns.unattributed,  # type: ignore[arg-type, union-attr]  # no parts: one ConnectionSet
                                                   conns.unread_processes(), conns.closed)  # type: ignore[union-attr]  # the same
    from pynetstat.model.netns_labels import namespace_notes, netns_cell

    out = namespace_notes(conns) if namespaces else []
    unread: dict[str, int] = {}
    for part in parts:
        out.extend(f"namespace {netns_cell(part.namespace)}: {note}"
                   for note in _source_notes(part.conns))
        for why, n in part.conns.unread_processes().items():
            unread[why] = unread.get(why, 0) + n
    first = parts[0].conns if parts else None
    if first is not None:
        out.extend(_owner_notes(first, sum(p.conns.unattributed for p in parts), unread,
                                sum(p.conns.closed for p in parts)))
    return list(dict.fromkeys(out))


def _source_notes(conns: Connections) -> list[str]:
    out = []
    log = conns.log
    for proto, why in log.fallback_reasons.items():
        source = log.sources.get(proto)
        kind = BY_NAME.get(proto)
        if source == "unavailable" and kind is not None and not kind.proc_file:
            # A kind with no /proc fallback (MPTCP, SCTP, VSOCK): one line, whatever else is
            # listed, and the exit status of a listing that is complete for the other kinds.
            module = log.missing.get(proto)
            out.append(f"{proto}: not listed: this kernel has no {module} (sock_diag answered "
                       "ENOENT)" if module else f"{proto}: not listed: {why}")
        elif source == "netlink (incomplete)":
            out.append(f"the {proto} dump broke off ({why}): {proto} sockets after that point "
                       "are not listed")
        elif (source == "unavailable" and not proto.endswith("6")
              and not any(path.endswith(f"/net/{proto}") for path in log.unreadable)):
            # No IPv6 is a kernel's choice; no IPv4 file is a broken /proc: a loss to say.
            out.append(f"no {proto} sockets could be read: {why}, and there is no /proc/net/{proto}")
        elif conns.opts.verbose or (proto in BY_NAME and not BY_NAME[proto].spec):
            # A fallback is not a loss (the rows are the same), so it is only said when asked;
            # for the kinds beyond the spec's it is said always: their /proc files say less
            # (no peers, no memberships) and /proc/net/unix can be forged.
            unverified = ": rows unverified" if source == "proc" and proto == "unix" else ""
            out.append(f"{proto}: read {source or 'nothing'} instead of sock_diag ({why}){unverified}")
    out.extend(log.filter_notes)
    out.extend(log.notes)
    out.extend(log.warnings)
    groups = conns.opts.extension_groups
    fallen = [proto for proto, source in log.sources.items()
              if source == "proc" and proto.startswith("tcp")]
    if groups and fallen:
        asked = ", ".join(f"--{flag}" for flag, group in (("timers", "timer"), ("memory", "memory"),
                                                         ("info", "tcp_info")) if group in groups)
        out.append(f"{asked}: {', '.join(fallen)} read from /proc, which has no socket internals: "
                   "nothing shown for those sockets")
    for path, why in log.unreadable.items():
        out.append(f"cannot read {path}: {why}")
    if log.parse_errors:
        first = log.parse_errors[0]
        out.append(f"skipped {len(log.parse_errors)} malformed line(s), first: {first}")
    if log.netlink.malformed or log.netlink.foreign:
        out.append(f"dropped {log.netlink.malformed + log.netlink.foreign} malformed netlink message(s)")
    if log.netlink.interrupted:
        out.append("the kernel's socket table changed while it was dumped (NLM_F_DUMP_INTR): "
                   "a socket may be missing")
    return out


def _owner_notes(conns: Connections, unattributed: int, unread: dict[str, int], closed: int) -> list[str]:
    out = []
    if unread:
        reasons = ", ".join(f"{why}: {n}" for why, n in sorted(unread.items()))
        out.append(f"{sum(unread.values())} process(es) holding sockets could not be read "
                   f"({reasons}); their rows say \"Can not obtain ownership information\"")
    if conns.owners is not None and unattributed:
        out.append(_unattributed_note(conns, unattributed, closed))
    return out


_CLOSED = "closed during the scan (the kernel no longer lists them)"


def _unattributed_note(conns: Connections, n: int, closed: int) -> str:
    """One line, each reason with its own count: the ``closed`` of the ``n`` unattributed
    sockets that closed during the scan (the kernel's word) apart from those still open, whose
    owners we may not see (with --all-netns, the sums over the namespaces)."""
    head = f"{n} {'socket' if n == 1 else 'sockets'} could not be attributed to a process: "
    if closed == n:
        return head + _CLOSED
    assert conns.owners is not None  # _owner_notes checked it
    report = conns.owners.report
    if report.denied:
        import os

        why = f"permission denied on the file descriptors of {report.denied} process(es)"
        advice = ("reading them needs CAP_SYS_PTRACE" if os.geteuid() == 0
                  else "run as root to see them all")
    elif report.hidepid:
        why = f"/proc is mounted with {report.hidepid}, which hides other users' processes"
        advice = "run as root to see them all"
    else:
        why, advice = "no process visible in this PID namespace holds them", None
    if advice:
        why += f"; {advice}"
    if not closed:
        return head + why
    return head + f"{n - closed} still open ({why}), {closed} {_CLOSED}"
