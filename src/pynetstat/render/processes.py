"""-c as text, JSON and CSV: one row a process, most ports first::

    Processes by TCP and UDP ports held

      Ports    TCP    UDP  PID      Name
         12     10      2  1234     nginx

With ``--info`` the bytes each process's TCP connections moved, and per second since the pass
before (interval mode; ``-`` on the first pass, or for a process none of whose TCP sockets was
read twice), busiest first::

      Ports    TCP    UDP          Sent      Received      Send/s      Recv/s  PID      Name
         12     10      2      18234112        123456     1048576         512  1234     nginx
"""

from __future__ import annotations

from pynetstat.textsafe import json_text, safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.views.processes import ProcessPorts

TITLE = "\nProcesses by TCP and UDP ports held\n\n"
HEADING = "  Ports    TCP    UDP  PID      Name\n"
TRAFFIC_TITLE = "\nProcesses by TCP and UDP ports held, and the bytes their TCP connections moved\n\n"
TRAFFIC_HEADING = ("  Ports    TCP    UDP          Sent      Received      Send/s      Recv/s"
                   "  PID      Name\n")
# The JSON keys of a row, in order (CSV's columns too).
COLUMNS = ("pid", "name", "ports", "tcp", "udp", "bytes_sent", "bytes_received",
           "send_bytes_per_sec", "receive_bytes_per_sec")


def _number(value: float | None, width: int) -> str:
    return "-".rjust(width) if value is None else f"{value:{width}.0f}"


def processes_text(rows: list[ProcessPorts], traffic: bool = False) -> str:
    """The table; ``traffic``: with the bytes columns (``--info``)."""
    if not traffic:
        lines = [TITLE, HEADING]
        lines += [f"  {p.ports:5d}  {p.tcp:5d}  {p.udp:5d}  {p.pid:<8d} {safe(p.name or '?')}\n"
                  for p in rows]
        return "".join(lines)
    lines = [TRAFFIC_TITLE, TRAFFIC_HEADING]
    lines += [f"  {p.ports:5d}  {p.tcp:5d}  {p.udp:5d}  {_number(p.sent, 12)}  "
              f"{_number(p.received, 12)}  {_number(p.send_rate, 10)}  "
              f"{_number(p.receive_rate, 10)}  {p.pid:<8d} {safe(p.name or '?')}\n"
              for p in rows]
    return "".join(lines)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def process_records(rows: list[ProcessPorts]) -> list[dict[str, object]]:
    """The rows as JSON objects (keys: ``COLUMNS``); bytes and rates null when not measured."""
    return [{"pid": p.pid, "name": None if p.name is None else json_text(p.name),
             "ports": p.ports, "tcp": p.tcp, "udp": p.udp, "bytes_sent": p.sent,
             "bytes_received": p.received, "send_bytes_per_sec": _rate(p.send_rate),
             "receive_bytes_per_sec": _rate(p.receive_rate)} for p in rows]
