"""``--json`` in the net-tools face: the sockets the options select, one object each, with the
field names jc's netstat parser gives net-tools output (``jc --netstat``), so that a script can
move from ``netstat | jc --netstat`` to this without renaming a field. Ports are integers,
absent values null; addresses are numeric (names are text, not data).
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from pynetstat.nettools.run import Run
    from pynetstat.nettools.sources import Programs


def _program(programs: Programs | None, inode: int) -> tuple[int | None, str | None]:
    if programs is None:
        return None, None
    text = programs(inode)
    if text == "-":
        return None, None
    pid, _, name = text.partition("/")
    return int(pid), name


def records(session: Run, notes: list[str]) -> list[dict[str, object]]:
    from pynetstat.nettools import layout
    from pynetstat.nettools.sources import gather
    from pynetstat.textsafe import safe

    opts = session.opts
    batches, raw, groups, unix, programs, _timers = gather(session, notes)
    out: list[dict[str, object]] = []
    for batch in batches:
        proto = batch.proto + ("6" if batch.family == 6 else "")
        for sock, _owners in batch.rows():
            server = (sock.remote_port == 0 if batch.proto == "tcp"
                      else sock.remote_address in ("::", "0.0.0.0"))
            if not layout.listed(opts, server):
                continue
            pid, name = _program(programs, sock.inode)
            out.append({
                "proto": proto, "recv_q": sock.recv_q,
                "send_q": 0 if sock.state == 10 else sock.send_q,
                "local_address": sock.local_address, "local_port": sock.local_port,
                "foreign_address": sock.remote_address, "foreign_port": sock.remote_port,
                "state": layout.TCP_STATES[layout._TCP_STATE_OF.get(sock.state, sock.state)]
                if batch.proto == "tcp" and sock.state < 13 else None,
                "user": sock.uid, "inode": sock.inode, "program_name": name, "pid": pid,
                "kind": "network", "transport_protocol": batch.proto,
                "network_protocol": "ipv6" if batch.family == 6 else "ipv4"})
    for sock in raw:
        if not layout.listed(opts, sock.remote_address in ("::", "0.0.0.0")):
            continue
        out.append({"proto": "raw6" if sock.family == 6 else "raw", "recv_q": sock.rqueue,
                    "send_q": sock.wqueue, "local_address": sock.local_address,
                    "local_port": sock.protocol, "foreign_address": sock.remote_address,
                    "foreign_port": None, "state": str(sock.state), "user": sock.uid,
                    "inode": sock.inode, "kind": "network", "transport_protocol": "raw",
                    "network_protocol": "ipv6" if sock.family == 6 else "ipv4"})
    for device, users, group in groups or ():
        out.append({"kind": "group", "interface": safe(device), "refcnt": users, "group": group,
                    "network_protocol": "ipv6" if ":" in group else "ipv4"})
    for row in unix or ():
        if not layout.listed(opts, layout.unix_server(row)):
            continue
        pid, name = _program(programs, row.inode)
        out.append({"proto": "unix", "refcnt": row.refcnt, "flags": row.flags, "type": row.type,
                    "state": row.state, "inode": row.inode,
                    "path": row.path.decode("utf-8", "surrogateescape") or None,
                    "program_name": name, "pid": pid, "kind": "socket"})
    return out


def write(out: TextIO, document: object) -> None:
    out.write(json.dumps(document, ensure_ascii=False) + "\n")


def write_json(session: Run, out: TextIO, notes: list[str]) -> None:
    write(out, records(session, notes))
