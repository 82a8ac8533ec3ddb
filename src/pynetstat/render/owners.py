"""The lines -b and -b -v print under a connection row, and the owner objects of --json.

Pure functions of ``ProcessInfo`` records: no /proc here. Every string from a process goes
through ``textsafe.safe`` (text) or ``textsafe.json_text`` (JSON); docs/escaping.md says how.

Layout, as the spec's netstat draws it: the component on top, indented two spaces, and the
executable name in brackets at the bottom, indented one::

      TCP    0.0.0.0:22             0.0.0.0:0              LISTENING
      sshd.service
     [sshd]

With -v the whole sequence, each line one step further from the socket than the line below it:
cgroup path, component, the ancestors from PID 1 down to the parent and the process itself as
``name (pid)``, the full executable path, then ``[name]``.
"""

from __future__ import annotations

from pynetstat.model.process import ProcessInfo
from pynetstat.textsafe import json_text, safe, safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pynetstat.model.process import Container
    from pynetstat.model.sockets import Owner

    OwnerLines = Callable[[Iterable[Owner | ProcessInfo], bool], list[str]]  # owner_lines
    OwnerJson = Callable[[Owner | ProcessInfo], dict[str, object]]  # owner_json

# What the spec's netstat prints when it may not look at the owner (indented like [name]).
UNREADABLE_LINE = " Can not obtain ownership information"
_DELETED = " (deleted)"


def component(info: ProcessInfo) -> str | None:
    """The component of a process, unescaped: its container if it has one, else its systemd unit.

    ``docker:9ec39b91f3d7``, ``containerd:f45298cd514d (pod dd1bf9d1-...)``, ``pod <uid>``,
    ``sshd.service``; ``None`` when it runs in neither.
    """
    c = info.container
    if c is None:
        return info.unit
    if c.id is None:
        return f"pod {c.pod}"
    ident = c.id[:12] if len(c.id) == 64 else c.id  # the short id `docker ps` shows
    return f"{c.runtime}:{ident}" + (f" (pod {c.pod})" if c.pod else "")


def exe_name(info: ProcessInfo) -> str:
    """The executable's file name (the short name when the exe link is unknown), unescaped."""
    name = (info.exe.rpartition("/")[2] or info.exe) if info.exe else (info.name or "?")
    return name + _DELETED if info.exe_deleted else name


def renamed(info: ProcessInfo) -> bool:
    """Does the process's name differ from its executable's file name? The name (comm) is cut
    to 15 bytes by the kernel (TASK_COMM_LEN, include/linux/sched.h), so only those count."""
    if not info.exe or info.name is None:
        return False
    base = info.exe.rpartition("/")[2].encode("utf-8", "surrogateescape")
    return info.name.encode("utf-8", "surrogateescape") != base[:15]


def as_info(owner: Owner | ProcessInfo) -> ProcessInfo:
    """The ProcessInfo behind a connection's ``Owner`` (its ``process``), or the record itself.

    An ``Owner`` whose process was not read gives a record with no executable, so it prints as
    ``[name]`` from the owner scan's comm rather than being dropped."""
    if isinstance(owner, ProcessInfo):
        return owner
    if owner.process is not None:
        return owner.process
    return ProcessInfo(owner.pid, owner.name)


def _block(info: ProcessInfo, verbose: bool) -> tuple[str, ...]:
    if info.unreadable is not None:
        return (UNREADABLE_LINE,)
    lines = []
    if verbose and info.cgroup:
        lines.append("  " + safe(info.cgroup))
    comp = component(info)
    if comp is not None:
        # A unit name (any cgroup directory name ending in .service) could otherwise draw a
        # fake connection row here: "  TCP    6.6.6.6:443 ... ESTABLISHED.service".
        lines.append("  " + (safe(comp) if info.container is not None else safe_token(comp)))
    if verbose:
        lines.extend(f"  {safe(name) if name is not None else '?'} ({pid})"
                     for pid, name in reversed(info.ancestry or ()))
        lines.append(f"  {safe(info.name or '?')} ({info.pid})")
        if info.exe:
            lines.append("  " + safe(info.exe) + (_DELETED if info.exe_deleted else ""))
    lines.append(f" [{safe(exe_name(info))}]")
    return tuple(lines)


def owner_lines(owners: Iterable[Owner | ProcessInfo], verbose: bool) -> list[str]:
    """The lines to print under one connection row for its owners, in order, without newlines.
    ``owners`` are the row's ``Owner`` objects (their ``process`` is used) or ProcessInfo records.

    Owners that would print the same lines (the workers of a pre-fork server under -b) are shown
    once; under -v each process has its own ``name (pid)`` line, so every owner is shown. Under
    -b the line ``  name (pid, pid, ...)`` of the processes behind an ``[executable]`` goes above
    it when several processes hold the socket (the PID column shows only the lowest) or when
    the process calls itself otherwise than its file (a multi-call binary: ``redis-server``
    running ``[redis-check-rdb]``, a busybox applet).
    """
    infos = [as_info(owner) for owner in owners]
    if verbose:
        return _unique_lines(_block(info, True) for info in infos)
    shared = len({info.pid for info in infos}) > 1
    # (block, name, named) -> PIDs, in order
    groups: dict[tuple[tuple[str, ...], str | None, bool], list[int]] = {}
    for info in infos:
        named = info.unreadable is None and (shared or renamed(info))
        pids = groups.setdefault((_block(info, False), info.name if named else None, named), [])
        if info.pid not in pids:
            pids.append(info.pid)
    blocks = []
    for (block, name, named), pids in groups.items():
        if named:
            pid_list = ", ".join(map(str, pids))
            block = block[:-1] + (f"  {safe(name or '?')} ({pid_list})",) + block[-1:]
        blocks.append(block)
    return _unique_lines(blocks)


def _unique_lines(blocks: Iterable[tuple[str, ...]]) -> list[str]:
    out: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for block in blocks:
        if block not in seen:
            seen.add(block)
            out.extend(block)
    return out


# The direction of a connection whose other end is on this host (model/peers.py's
# ``peer_accepted``): this end was accepted, it connected, or unknown (UDP, no listener listed).
PEER_ARROWS = {True: "<-", False: "->", None: "<->"}


def peer_line(accepted: bool | None, inode: int, owners: Iterable[Owner]) -> str:
    """-b's line under a TCP or UDP row whose other end is on this host: the arrow, then each
    process holding that end as ``name pid``, or its inode when no visible process holds it.

    >>> from pynetstat.model.sockets import Owner
    >>> peer_line(False, 9, (Owner(455, "postgres"),)), peer_line(True, 8, (Owner(812, "psql"),))
    ('  -> postgres 455', '  <- psql 812')
    >>> peer_line(None, 8, ()), peer_line(True, 8, (Owner(7, "a\\nb"), Owner(9, None)))
    ('  <-> inode:8', '  <- a\\\\nb 7, ? 9')
    """
    ends = ", ".join(f"{safe(o.name or '?')} {o.pid}" for o in owners) or f"inode:{inode}"
    return f"  {PEER_ARROWS[accepted]} {ends}"


def _opt(value: str | None) -> str | None:
    return None if value is None else json_text(value)


def _container_json(c: Container | None) -> dict[str, object] | None:
    if c is None:
        return None
    return {"id": _opt(c.id), "runtime": c.runtime, "pod": _opt(c.pod)}


def owner_json(owner: Owner | ProcessInfo) -> dict[str, object]:
    """One owner for --json: every field always present, ``null`` when unknown."""
    info = as_info(owner)
    return {
        "pid": info.pid,
        "name": _opt(info.name),
        "exe": _opt(info.exe),
        "exe_deleted": info.exe_deleted,
        "cmdline": None if info.cmdline is None else [json_text(a) for a in info.cmdline],
        "uid": info.uid,
        "ppid": info.ppid,
        "start_time": info.start_time,
        "unit": _opt(info.unit),
        "container": _container_json(info.container),
        "cgroup": _opt(info.cgroup),
        "ancestry": None if info.ancestry is None else [
            {"pid": pid, "name": _opt(name)} for pid, name in info.ancestry],
        "unreadable": info.unreadable,
    }
