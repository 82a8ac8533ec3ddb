"""The connection table as one JSON document, streamed row by row.

The document is ``{"schema_version": 1, "connections": [...], "sources": ..., ...}``; the array
is written as rows are decoded (``json`` cannot serialise a generator), every value by
``json.dumps``. Output is ASCII: any other character is a ``\\uXXXX`` escape, so a hostile
process name cannot act on a terminal that shows the JSON. Field reference: docs/json.md.
"""

from __future__ import annotations

import json

from pynetstat.model.sockets import kernel_state_name, spec_state_name
from pynetstat.render.endpoints import is_ipv4_mapped, is_link_local
from pynetstat.textsafe import json_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import TextIO

    from pynetstat.model.sockets import InetSocket, Owner
    from pynetstat.resolve import Names

SCHEMA_VERSION = 1


def connection_record(sock: InetSocket, owners: tuple[Owner, ...] | None, names: Names | None,
                      ifname: Callable[[int], str], owner_json: Callable | None) -> dict:
    """One row as a dict; ``owners`` is ``None`` when owners were not asked for (then ``pid`` and
    ``owners`` are null), ``()`` when asked for and none is visible."""
    proto = sock.proto + ("6" if sock.family == 6 else "")
    rec = {
        "proto": proto,
        "family": "ipv6" if sock.family == 6 else "ipv4",
        "local_address": sock.local_address,
        "local_port": sock.local_port,
        "remote_address": sock.remote_address,
        "remote_port": sock.remote_port,
        "state": spec_state_name(sock.state) if sock.proto == "tcp" else None,
        "kernel_state": kernel_state_name(sock.state),
        "interface": json_text(ifname(sock.scope)) if sock.scope else None,
        "link_local": is_link_local(sock.local_address),
        "ipv4_mapped": is_ipv4_mapped(sock.local_address) or is_ipv4_mapped(sock.remote_address),
        "recv_q": sock.recv_q,
        "send_q": sock.send_q,
        "uid": sock.uid,
        "inode": sock.inode,
        "cookie": sock.cookie,
        "pid": owners[0].pid if owners else None,
        "owners": None,
        "local_service": None,
        "remote_service": None,
        "remote_host": None,
    }
    if owners is not None:
        rec["owners"] = [owner_json(o) if owner_json else
                         {"pid": o.pid, "name": None if o.name is None else json_text(o.name)}
                         for o in owners]
    if names is not None:
        rec["local_service"] = names.service(sock.local_port, sock.proto)
        rec["remote_service"] = names.service(sock.remote_port, sock.proto) if sock.remote_port else None
        host = names.host(sock.remote_address)
        rec["remote_host"] = None if host is None else json_text(host)
    return rec


def write_connections(out: TextIO, rows: Iterable[tuple[InetSocket, tuple[Owner, ...]]],
                      with_owners: bool, names: Names | None, ifname: Callable[[int], str],
                      owner_json: Callable | None, trailer: Callable[[], dict],
                      extra_head: dict | None = None) -> None:
    """Stream the document; ``trailer()`` is called after the last row (it reports what the
    collection could not see, which is only known then)."""
    head = {"schema_version": SCHEMA_VERSION, **(extra_head or {})}
    out.write(json.dumps(head)[:-1] + ', "connections": [')
    dumps = json.dumps
    first = True
    batch: list[str] = []
    for sock, owners in rows:
        rec = connection_record(sock, owners if with_owners else None, names, ifname, owner_json)
        batch.append(("\n" if first else ",\n") + dumps(rec))
        first = False
        if len(batch) >= 1024:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))
    tail = dumps(trailer())
    out.write("\n]" + (", " + tail[1:] if len(tail) > 2 else "}") + "\n")
