"""The detail panel of the live view: a connection's process (executable, command line, user,
ancestry, unit or container, all its sockets) and the socket itself (queues, cookie, inode).

``detail_lines`` is pure: the process record (linux/process.read_process, with ancestry) and
the board's rows in, escaped lines of text out (textsafe), the same escaping as the table.
"""

from __future__ import annotations

from pynetstat.linux.diagext import decode_extensions, decode_timer, format_ms_timer
from pynetstat.render.owners import component
from pynetstat.textsafe import safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from pynetstat.linux.diagreq import DiagMessage
    from pynetstat.model.process import ProcessInfo
    from pynetstat.modes.live.board import Row


def _user(uid: int | None, getpwuid: Callable[[int], Any]) -> str:
    if uid is None:
        return "?"
    try:
        return f"{safe(getpwuid(uid).pw_name)} ({uid})"
    except KeyError:
        return str(uid)


def describe(cells: tuple[str, ...]) -> str:
    """``TCP 127.0.0.1:5000 -> 127.0.0.1:40112 ESTABLISHED``: a row's cells in one line."""
    proto, local, remote, state = cells[:4]
    return f"{proto} {local} -> {remote} {state}".rstrip()


def _kernel_lines(message: DiagMessage | None) -> list[str]:
    """The timer and tcp_info of a one-socket sock_diag answer (as ``ss -toi`` shows them)."""
    if message is None:
        return []
    # diagext's records set their slots from a table (no declared attribute types yet)
    timer: Any = decode_timer(message.timer, message.expires, message.retrans)
    lines = [f"  timer       {timer.name}" + (f", {format_ms_timer(timer.expires_ms)}, "
                                               f"{timer.retrans} retransmitted"
                                               if timer.kind else "")]
    ext: Any = decode_extensions(message.attrs)
    info = ext.info
    if info is not None:
        def value(name: str) -> str:
            v = getattr(info, name, None)
            return "?" if v is None else str(v)
        rtt = getattr(info, "rtt", None)
        rttvar = getattr(info, "rttvar", None)
        lines.append("  tcp_info    "
                     + (f"rtt {rtt / 1000:g}/{rttvar / 1000:g} ms, "
                        if rtt is not None and rttvar is not None else "")
                     + f"cwnd {value('snd_cwnd')}, retransmitted {value('total_retrans')}, "
                     f"bytes acked {value('bytes_acked')}, received {value('bytes_received')}")
    if ext.congestion:
        lines.append(f"  congestion  {safe(ext.congestion)}")
    return lines


def detail_lines(row: Row, processes: Iterable[ProcessInfo], rows: Iterable[Row],
                 getpwuid: Callable[[int], Any], message: DiagMessage | None = None) -> list[str]:
    """The panel's lines for ``row``: the socket (with ``message``, the kernel's answer about
    it alone: its timer and tcp_info), then each process holding it and the other sockets that
    process holds (from ``rows``, the board as it is)."""
    sock = row.sock
    lines = ["Connection", f"  {describe(row.cells)}",
             f"  queues      receive {sock.recv_q}, send {sock.send_q}",
             f"  cookie      {sock.cookie if sock.cookie is not None else '-'}, "
             f"inode {sock.inode or '-'}",
             f"  owner       {_user(sock.uid, getpwuid)}",
             *_kernel_lines(message)]
    processes = list(processes)
    if not processes:
        lines += ["", "No visible process holds this socket (a TIME_WAIT or request socket, "
                  "another user's process without root, or another namespace)."]
    rows = list(rows)
    for info in processes:
        lines += ["", f"Process {info.pid}  {safe(info.name or '?')}"]
        if info.unreadable:
            lines.append(f"  not readable: {safe(info.unreadable)}")
        exe = safe(info.exe) + (" (deleted)" if info.exe_deleted else "") if info.exe else "?"
        lines.append(f"  executable  {exe}")
        if info.cmdline is not None:
            lines.append("  command     " + " ".join(safe(arg) for arg in info.cmdline))
        lines.append(f"  user        {_user(info.uid, getpwuid)}")
        ancestry = [f"{safe(name) if name is not None else '?'} ({pid})"
                    for pid, name in info.ancestry or ()]
        if ancestry:
            lines.append("  ancestry    " + " < ".join(ancestry))
        comp = component(info)
        if comp is not None:
            lines.append(f"  {'container' if info.container is not None else 'unit':<11} "
                         + safe(comp))
        if info.cgroup:
            lines.append(f"  cgroup      {safe(info.cgroup)}")
        held = [other for other in rows if info.pid in other.pids]
        lines.append(f"  sockets     {len(held)}")
        lines += [f"    {describe(other.cells)}" for other in held[:200]]
        if len(held) > 200:
            lines.append(f"    ... and {len(held) - 200} more")
    return lines
