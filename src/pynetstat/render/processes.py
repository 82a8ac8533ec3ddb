"""-c as text and JSON: one row a process, most ports first::

    Processes by TCP and UDP ports held

      Ports    TCP    UDP  PID      Name
         12     10      2  1234     nginx
"""

from __future__ import annotations

from pynetstat.textsafe import json_text, safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.views.processes import ProcessPorts

TITLE = "\nProcesses by TCP and UDP ports held\n\n"
HEADING = "  Ports    TCP    UDP  PID      Name\n"


def processes_text(rows: list[ProcessPorts]) -> str:
    lines = [TITLE, HEADING]
    lines += [f"  {p.ports:5d}  {p.tcp:5d}  {p.udp:5d}  {p.pid:<8d} {safe(p.name or '?')}\n"
              for p in rows]
    return "".join(lines)


def processes_json(rows: list[ProcessPorts]) -> list[dict[str, object]]:
    return [{"pid": p.pid, "name": None if p.name is None else json_text(p.name),
             "ports": p.ports, "tcp": p.tcp, "udp": p.udp} for p in rows]
