"""The connection table as one JSON document, streamed a batch of rows at a time.

The document is ``{"schema_version": 1, "connections": [...], "sources": ..., ...}``; the array
is written as batches are decoded (``json`` cannot serialise a generator). ``connection_record``
defines a row; ``BatchEncoder`` writes plain batches without a dict per row. Output is ASCII:
any other character is a ``\\uXXXX`` escape, so a hostile process name cannot act on a terminal
that shows the JSON. Field reference: docs/json.md.
"""

from __future__ import annotations

import json
from itertools import compress, repeat
from operator import not_, or_

from pynetstat.kinds import BY_PROTOCOL
from pynetstat.model import SCHEMA_VERSION
from pynetstat.model.fields import CONNECTION_JSON, SHAPE_JSON
from pynetstat.model.sockets import (
    ETHERTYPES,
    IP_PROTOCOLS,
    SOCK_TYPE_WORDS,
    UNIX_STATE_WORDS,
    kernel_state_name,
    spec_state_name,
)
from pynetstat.render.endpoints import Memo, is_ipv4_mapped, is_link_local
from pynetstat.textsafe import json_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, TextIO

    from pynetstat.kinds import SocketKind
    from pynetstat.linux.diagext import Extensions
    from pynetstat.model.passes import Measure
    from pynetstat.model.sockets import (
        InetSocket,
        Owner,
        PacketSocketRecord,
        RawSocketRecord,
        SocketBatch,
        UnixSocketRecord,
        VsockSocketRecord,
    )
    from pynetstat.render.endpoints import IfName
    from pynetstat.render.owners import OwnerJson
    from pynetstat.resolve import Names

    JsonObject = dict[str, Any]  # what json.dumps writes as an object
    # extensions_json.extension_encoder: (the row's extensions, IPv4, interval mode's measures)
    ExtJson = Callable[[Extensions | None, bool, Measure | None], JsonObject]
    Peer = tuple[int, tuple[Owner, ...]]  # the other end's inode and owners


def connection_record(sock: InetSocket, owners: tuple[Owner, ...] | None, names: Names | None,
                      ifname: Callable[[int], str], owner_json: OwnerJson | None,
                      extensions: JsonObject | None = None, peer: Peer | None = None
                      ) -> JsonObject:
    """One row as a dict; ``owners`` is ``None`` when owners were not asked for (then ``pid`` and
    ``owners`` are null), ``()`` when asked for and none is visible. ``extensions``: the row's
    ``dscp``, ``timer``, ``memory`` and ``tcp_info`` (render/extensions_json.extension_json), or ``None``:
    not asked for, all null. ``peer``: ``(inode, owners)`` of the other end on this host (the
    peer join), or ``None``: none there, or not looked for (the ``peer_*`` fields are null)."""
    kind = BY_PROTOCOL[(sock.proto, sock.family)]
    if kind.shape != "inet":
        return _other_record(kind, sock, owners, ifname, owner_json)
    # Keys in the order of model/fields.CONNECTION_JSON (tests/test_json_schema.py checks it).
    rec: JsonObject = {
        "proto": kind.name,
        "family": "ipv6" if sock.family == 6 else "ipv4",
        "local_address": sock.local_address,
        "local_port": sock.local_port,
        "remote_address": sock.remote_address,
        "remote_port": sock.remote_port,
        "state": spec_state_name(sock.state) if kind.has_state else None,
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
        "peer_inode": None,
        "peer_pid": None,
        "peer_owners": None,
        "local_service": None,
        "remote_service": None,
        "remote_host": None,
        "dscp": None,
        "timer": None,
        "memory": None,
        "tcp_info": None,
        "mptcp_info": None,
    }
    if extensions is not None:
        rec.update(extensions)
    if owners is not None:
        rec["owners"] = owners_value(owners, owner_json)
    if peer is not None:
        rec["peer_inode"], peer_owners = peer
        rec["peer_pid"] = peer_owners[0].pid if peer_owners else None
        rec["peer_owners"] = owners_value(peer_owners, owner_json)
    if names is not None:
        rec["local_service"] = names.service(sock.local_port, sock.proto)
        rec["remote_service"] = names.service(sock.remote_port, sock.proto) if sock.remote_port else None
        host = names.host(sock.remote_address)
        rec["remote_host"] = None if host is None else json_text(host)
    return rec


_FAMILY_NAMES = {4: "ipv4", 6: "ipv6"}


def _other_record(kind: SocketKind, sock: Any, owners: tuple[Owner, ...] | None,
                  ifname: Callable[[int], str], owner_json: OwnerJson | None) -> JsonObject:
    """A row of a kind beyond TCP and UDP: the fields every kind shares, then its shape's own
    (model/fields.SHAPE_JSON, in that order; docs/json.md)."""
    rec: JsonObject = {
        "proto": kind.name,
        "family": _FAMILY_NAMES.get(sock.family, kind.name),
        "state": _SHAPE_STATE[kind.shape](sock),
        "kernel_state": kernel_state_name(sock.state),
        "recv_q": sock.recv_q,
        "send_q": sock.send_q,
        "uid": sock.uid,
        "inode": sock.inode,
        "cookie": sock.cookie,
        "pid": owners[0].pid if owners else None,
        "owners": None if owners is None else owners_value(owners, owner_json),
    }
    rec.update(_SHAPE_FIELDS[kind.shape](sock, ifname, owner_json))
    return {name: rec[name] for name, _type in SHAPE_JSON[kind.shape]}


def _name_json(name: bytes | None) -> str | None:
    return None if name is None else json_text(name)


def _unix_fields(sock: UnixSocketRecord, ifname: IfName, owner_json: OwnerJson | None
                 ) -> JsonObject:
    peers = sock.peer_owners
    return {
        "type": _type_word(sock.type),
        "path": _name_json(sock.path), "abstract": sock.abstract,
        "peer_inode": sock.peer or None, "peer_path": _name_json(sock.peer_path),
        "peer_abstract": sock.peer_abstract,
        "peer_pid": min(o.pid for o in peers) if peers else None,
        "peer_owners": None if peers is None or not sock.peer else owners_value(peers, owner_json),
        "verified": sock.verified, "duplicate": sock.duplicate,
    }


def _interface(ifname: IfName, index: int) -> str | None:
    return json_text(ifname(index)) if index else None


def _raw_fields(sock: RawSocketRecord, ifname: IfName, owner_json: OwnerJson | None
                ) -> JsonObject:
    return {
        "ip_protocol": sock.ip_protocol, "ip_protocol_name": IP_PROTOCOLS.get(sock.ip_protocol),
        "local_address": sock.local_address, "local_port": sock.local_port,
        "remote_address": sock.remote_address, "interface": _interface(ifname, sock.scope),
        "verified": sock.verified,
    }


def _ring(ring: Any) -> JsonObject | None:
    if ring is None:
        return None
    return {"block_size": ring.block_size, "block_nr": ring.block_nr,
            "frame_size": ring.frame_size, "frame_nr": ring.frame_nr}


_FANOUT_MODES = {0: "hash", 1: "lb", 2: "cpu", 3: "rollover", 4: "rnd", 5: "qm", 6: "cbpf",
                 7: "ebpf"}  # include/uapi/linux/if_packet.h PACKET_FANOUT_*


def _packet_fields(sock: PacketSocketRecord, ifname: IfName, owner_json: OwnerJson | None
                   ) -> JsonObject:
    fanout = sock.fanout
    return {
        "type": _type_word(sock.type),
        "ethertype": sock.ethertype, "ethertype_name": ETHERTYPES.get(sock.ethertype),
        "interface": _interface(ifname, sock.scope), "promiscuous": sock.promiscuous,
        "fanout": None if fanout is None else {
            "group": fanout[0], "mode": _FANOUT_MODES.get(fanout[1] & 0xFF, str(fanout[1]))},
        "rx_ring": _ring(sock.rx_ring), "tx_ring": _ring(sock.tx_ring),
        "verified": sock.verified,
    }


def _vsock_fields(sock: VsockSocketRecord, ifname: IfName, owner_json: OwnerJson | None
                  ) -> JsonObject:
    return {
        "type": _type_word(sock.type),
        "local_cid": sock.local_cid, "local_port": sock.local_port,
        "remote_cid": sock.remote_cid, "remote_port": sock.remote_port,
    }


def _unix_state(state: int) -> str | None:
    """A UNIX row's ``state``: the table's word, null for an unconnected datagram socket."""
    return UNIX_STATE_WORDS.get(state, f"UNKNOWN({state})") or None


def _type_word(stype: int) -> str:
    """A UNIX or packet row's ``type``: ``stream``, ``dgram``, ``seqpacket``, ``raw`` ..."""
    return SOCK_TYPE_WORDS.get(stype, str(stype)).lower()


# shape -> the row's state (the table's words; null where the table shows none) and own fields
_SHAPE_STATE: dict[str, Callable[[Any], str | None]] = {"unix": lambda sock: _unix_state(sock.state),
                "raw": lambda sock: None, "packet": lambda sock: None,
                "vsock": lambda sock: spec_state_name(sock.state)}
_SHAPE_FIELDS: dict[str, Callable[[Any, IfName, OwnerJson | None], JsonObject]] = {"unix": _unix_fields, "raw": _raw_fields, "packet": _packet_fields,
                 "vsock": _vsock_fields}


def owners_value(owners: tuple[Owner, ...], owner_json: OwnerJson | None
                 ) -> list[dict[str, object]]:
    """The ``owners`` field: one object per process holding the socket."""
    return [owner_json(o) if owner_json else
            {"pid": o.pid, "name": None if o.name is None else json_text(o.name)} for o in owners]


def batch_peers(batch: SocketBatch, with_owners: bool) -> Iterable[Peer | None]:
    """Each row's ``peer`` for ``connection_record``: ``(inode, owners)`` of the other end when
    the peer join found it on this host, else None (as for every row when it did not run)."""
    if not with_owners or batch.SHAPE != "inet":  # a UNIX batch's peer is a column of its own
        return repeat(None)
    peers, peer_owners = batch.peer, batch.peer_owners
    if peers is None or peer_owners is None:
        return repeat(None)
    return (None if not inode else (inode, owners) for inode, owners in zip(peers, peer_owners))


def batch_extensions(batch: SocketBatch, ext_json: ExtJson | None
                     ) -> Iterable[JsonObject | None]:
    """Each row's extension objects (``ext_json(ext, ipv4)``: render/extensions.extension_encoder),
    or None for every row when the batch carries none or none was asked for. An IPv4-mapped
    remote address makes a row's DSCP the IPv4 TOS. In interval mode with the batch's
    ``measures``."""
    if batch.extensions is None or ext_json is None:
        return repeat(None)
    v4 = batch.family == 4
    measures = batch.measures
    if measures is not None:  # interval mode: the rates, the time seen in state
        return (ext_json(ext, v4 or remote.startswith("::ffff:"), measures.row(i))
                for i, (ext, remote) in enumerate(zip(batch.extensions, batch.remote_address)))
    return (ext_json(ext, v4 or remote.startswith("::ffff:"), None)
            for ext, remote in zip(batch.extensions, batch.remote_address))


class BatchEncoder:
    """Rows of a batch as JSON text without a dict per row: a batch whose fields are all known
    to be plain (numeric, no interface, a cookie; no names) fills one template per row, every
    string field from a cache of its JSON text per distinct value. The text is exactly
    ``json.dumps(connection_record(...))`` (tests/test_json_batches.py checks it); any other
    batch is encoded record by record."""

    def __init__(self, with_owners: bool, names: Names | None, ifname: Callable[[int], str],
                 owner_json: OwnerJson | None, ext_json: ExtJson | None = None):
        self.with_owners = with_owners
        self.ext_json = ext_json  # Extensions -> the row's extension objects (--info ...)
        self.names = names
        self.ifname = ifname
        self.owner_json = owner_json
        dumps = json.dumps
        self.address = Memo(dumps)
        self.link_local = Memo(lambda a: _BOOL[is_link_local(a)])
        self.mapped = Memo(is_ipv4_mapped)
        self.tcp_state = Memo(lambda state: dumps(spec_state_name(state)))
        self.kernel_state = Memo(lambda state: dumps(kernel_state_name(state)))
        self.uid = Memo(str, {None: "null"})
        self.pid = Memo(lambda owners: str(owners[0].pid) if owners else "null")
        self.owners = Memo(lambda owners: dumps(owners_value(owners, owner_json)))
        self.templates: dict[str, str] = {}  # kind name -> the row's template
        self.unix_memos: _UnixMemos | None = None  # made at the first UNIX batch

    def rows(self, batch: SocketBatch) -> list[str]:
        """The batch's rows, one JSON text each, in order."""
        kind = BY_PROTOCOL[(batch.proto, batch.family)]
        if kind.shape == "unix":
            return self.unix_rows(kind, batch)
        # The template knows the inet shape's plain rows; anything else is encoded record by record.
        if not is_plain(kind, batch, self.names) or batch.extensions is not None:
            dumps = json.dumps
            owners = self.with_owners
            ifname = self.ifname
            if batch.netns is not None and hasattr(ifname, "within"):
                ifname = ifname.within(batch.netns)  # a scope is an ifindex of its namespace
            return [dumps(connection_record(sock, found if owners else None, self.names,
                                            ifname, self.owner_json, ext, peer))
                    for (sock, found), ext, peer in zip(batch.rows(),
                                                        batch_extensions(batch, self.ext_json),
                                                        batch_peers(batch, owners))]
        n = len(batch)
        local = batch.local_address
        mapped = mapped_cells(batch, self.mapped)
        pids, owner_lists = self.owner_cells(batch)
        peer_inodes, peer_pids, peer_lists = self.peer_cells(batch)
        address = self.address.__getitem__
        columns = {
            "local_address": map(address, local), "local_port": batch.local_port,
            "remote_address": map(address, batch.remote_address), "remote_port": batch.remote_port,
            "state": (map(self.tcp_state.__getitem__, batch.state) if kind.has_state
                      else repeat("null", n)),
            "kernel_state": map(self.kernel_state.__getitem__, batch.state),
            "link_local": map(self.link_local.__getitem__, local), "ipv4_mapped": mapped,
            "recv_q": batch.recv_q, "send_q": batch.send_q,
            "uid": uid_cells(batch, self.uid),
            "inode": batch.inode, "cookie": batch.cookie, "pid": pids, "owners": owner_lists,
            "peer_inode": peer_inodes, "peer_pid": peer_pids, "peer_owners": peer_lists,
        }
        cells = zip(*(columns[name] for name in _FILLED))
        template = self._template(kind, CONNECTION_JSON, PLAIN_CELLS, {
            "family": '"ipv6"' if kind.family == 6 else '"ipv4"', **_PLAIN_FIXED})
        return list(map(template.__mod__, cells))

    def owner_cells(self, batch: Any) -> tuple[Iterable[str], Iterable[str]]:
        """A batch's ``pid`` and ``owners`` cells: null each without owners asked for; with
        them, the first owner's pid and the owner list (``[]``: none visible)."""
        n = len(batch)
        if not self.with_owners:
            return repeat("null", n), repeat("null", n)
        owners = batch.owners if batch.owners is not None else ((),) * n
        return map(self.pid.__getitem__, owners), map(self.owners.__getitem__, owners)

    def unix_rows(self, kind: SocketKind, batch: Any) -> list[str]:
        """A UNIX batch's rows by one template (``UNIX_CELLS``), every field a column: each
        name, owners tuple, type and state made into JSON text once (a ``Memo``), looked up per
        row (``map``). The text of ``_other_record`` row by row."""
        memos = self.unix_memos
        if memos is None:
            memos = self.unix_memos = _UnixMemos(self.owners)
        pids, owner_lists = self.owner_cells(batch)
        peers = batch.peer
        columns = {
            "state": map(memos.state.__getitem__, batch.state),
            "kernel_state": map(self.kernel_state.__getitem__, batch.state),
            "recv_q": _nullable(batch.recv_q), "send_q": _nullable(batch.send_q),
            "uid": _nullable(batch.uid), "inode": batch.inode,
            "cookie": _nullable(batch.cookie), "pid": pids, "owners": owner_lists,
            "type": map(memos.type.__getitem__, batch.type),
            "path": map(memos.name.__getitem__, batch.path),
            "abstract": map(_BOOL.__getitem__, batch.abstract),
            "peer_inode": map(_NO_PEER.get, peers, peers),
            "peer_path": map(memos.name.__getitem__, batch.peer_path),
            "peer_abstract": map(_BOOL.__getitem__, batch.peer_abstract),
            "peer_pid": map(memos.peer_pid.__getitem__, batch.peer_owners),
            "peer_owners": _unix_peer_owners(peers, batch.peer_owners, memos.peer_owners),
            "verified": map(_BOOL.__getitem__, batch.verified),
            "duplicate": map(_BOOL.__getitem__, batch.duplicate),
        }
        template = self._template(kind, SHAPE_JSON["unix"], UNIX_CELLS, {
            "family": json.dumps(_FAMILY_NAMES.get(batch.family, kind.name))})
        cells = zip(*(columns[name] for name in _UNIX_FILLED))
        return list(map(template.__mod__, cells))

    def peer_cells(self, batch: SocketBatch
                   ) -> tuple[Iterable[object], Iterable[str], Iterable[str]]:
        """The ``peer_inode``, ``peer_pid`` and ``peer_owners`` cells of a plain batch, a column
        at a time: each null where the join found no other end on this host."""
        peers, peer_owners = batch.peer, batch.peer_owners
        if not self.with_owners or peers is None or peer_owners is None:
            return repeat("null"), repeat("null"), repeat("null")
        pids, lists = peer_cells(peers, peer_owners, self.pid, self.owners, "null")
        return map(_NO_PEER.get, peers, peers), pids, lists

    def _template(self, kind: SocketKind, fields: Sequence[tuple[str, str]],
                  cells: dict[str, str], fixed: dict[str, str]) -> str:
        """The row's template of a kind, made once: each field of ``fields`` (model/fields) a
        conversion filled per row (``cells``) or a text the same for every row (``fixed``, and
        the kind's name as ``proto``)."""
        template = self.templates.get(kind.name)
        if template is None:
            fixed = {"proto": json.dumps(kind.name), **fixed}
            template = self.templates[kind.name] = "{" + ", ".join(
                f'"{name}": {cells[name] if name in cells else fixed[name].replace("%", "%%")}'
                for name, _type in fields) + "}"
        return template


# How a plain batch writes each field of the row (model/fields.CONNECTION_JSON): a conversion
# filled from a column, or a text that is the same for every row of the batch (a new field of
# the row must say which, or the template cannot be made).
PLAIN_CELLS = {
    "local_address": "%s", "local_port": "%d", "remote_address": "%s", "remote_port": "%d",
    "state": "%s", "kernel_state": "%s", "link_local": "%s", "ipv4_mapped": "%s",
    "recv_q": "%d", "send_q": "%d", "uid": "%s", "inode": "%d", "cookie": "%d", "pid": "%s",
    "owners": "%s", "peer_inode": "%s", "peer_pid": "%s", "peer_owners": "%s",
}
# map(_NO_PEER.get, inodes, inodes): the inode, "null" for 0 (no other end) and None (a UNIX
# socket's from /proc, which does not say)
_NO_PEER = {0: "null", None: "null"}
# How a UNIX batch writes each field of its row (model/fields.SHAPE_JSON["unix"]): every one a
# text made per row (``BatchEncoder.unix_rows``) but proto and family, the kind's.
UNIX_CELLS = {name: "%d" if name == "inode" else "%s"
              for name, _type in SHAPE_JSON["unix"] if name not in ("proto", "family")}
_UNIX_FILLED = tuple(UNIX_CELLS)


class _UnixMemos:
    """The JSON texts a UNIX batch's rows look up, each made once per distinct value:
    ``owners`` is the encoder's Memo of an owner list's text."""

    def __init__(self, owners: Memo):
        dumps = json.dumps
        self.state = Memo(lambda state: dumps(_unix_state(state)))
        self.type = Memo(lambda stype: dumps(_type_word(stype)))
        self.name = Memo(lambda name: dumps(_name_json(name)))
        # the peer's owners (None until the owner join): its least pid, its owner list
        self.peer_pid = Memo(lambda peers: str(min(o.pid for o in peers)) if peers else "null")
        self.peer_owners = Memo(lambda peers: "null" if peers is None else owners[peers])


def _nullable(column: Sequence[int | None]) -> Sequence[object]:
    """A column of ints (written by ``%s`` as JSON writes them) with each None as null."""
    if None not in column:
        return column
    return ["null" if value is None else value for value in column]


def _unix_peer_owners(peers: Sequence[int | None], peer_owners: Sequence[tuple[Owner, ...] | None],
                      memo: Memo) -> Iterable[str]:
    """A UNIX batch's ``peer_owners`` cells: the peer's owner list, null where there is no peer
    or the owner join did not run."""
    if peer_owners.count(None) == len(peer_owners):
        return repeat("null", len(peer_owners))
    cells = list(map(memo.__getitem__, peer_owners))
    _no_peer(cells, peers, "null")
    return cells


def peer_cells(peers: Sequence[int], peer_owners: Sequence[tuple[Owner, ...]], pid: Memo,
               owners: Memo, none: str) -> tuple[list[str], list[str]]:
    """The ``peer_pid`` and ``peer_owners`` cells of a batch, a column at a time: the other
    end's owners through the Memos of the row's own ``pid`` and ``owners`` cells, and ``none``
    in both where the join found no other end (inode 0). An other end that no visible process
    holds has an empty owner list, not ``none``. Keyed by the owner tuples alone (a few per
    listing), not by a (found, owners) pair made and hashed per row."""
    pids = list(map(pid.__getitem__, peer_owners))
    lists = list(map(owners.__getitem__, peer_owners))
    for cells in (pids, lists):
        _no_peer(cells, peers, none)
    return pids, lists


def _no_peer(cells: list[str], peers: Sequence[int | None], none: str) -> None:
    """``none`` in ``cells`` at each row with no other end (a peer inode 0, or None: the source
    does not say), by one scan when every row has one."""
    if not all(peers):
        list(map(cells.__setitem__, compress(range(len(peers)), map(not_, peers)), repeat(none)))
_PLAIN_FIXED = {"interface": "null", "local_service": "null", "remote_service": "null",
                "remote_host": "null", "dscp": "null", "timer": "null", "memory": "null",
                "tcp_info": "null", "mptcp_info": "null"}
_FILLED = tuple(name for name, _type in CONNECTION_JSON if name in PLAIN_CELLS)


_BOOL = {None: "null", False: "false", True: "true"}  # a bool or null field as JSON writes it


def is_plain(kind: SocketKind, batch: SocketBatch, names: Names | None) -> bool:
    """Can a batch's rows be filled from its columns (JSON's template, CSV's columns)? Inet
    sockets, numeric (no names to look up), none bound to an interface, each with a cookie."""
    return (kind.shape == "inet" and names is None and not any(batch.scope)
            and None not in batch.cookie)


def uid_cells(batch: SocketBatch, uid: Memo) -> Iterable[object]:
    """The ``uid`` column: each uid as it is, and through ``uid`` (a Memo that knows what None
    is written as) when a uid is None (a TIME_WAIT or request socket). Only a socket with inode
    0 can have none: one C-level scan decides whether to look."""
    return map(uid.__getitem__, batch.uid) if 0 in batch.inode and None in batch.uid else batch.uid


def mapped_cells(batch: SocketBatch, mapped: Memo) -> Iterable[str]:
    """The ``ipv4_mapped`` column as JSON writes it: ``"true"`` when either end is an
    IPv4-mapped IPv6 address (``mapped``: a Memo of ``is_ipv4_mapped``)."""
    if batch.family == 4:
        return repeat("false", len(batch))  # is_ipv4_mapped needs "::ffff:"
    at = mapped.__getitem__
    return map(_BOOL.__getitem__, map(or_, map(at, batch.local_address),
                                      map(at, batch.remote_address)))


def write_connections(out: TextIO, batches: Iterable[SocketBatch], with_owners: bool,
                      names: Names | None, ifname: Callable[[int], str],
                      owner_json: OwnerJson | None, trailer: Callable[[], JsonObject],
                      extra_head: JsonObject | None = None, ext_json: ExtJson | None = None
                      ) -> None:
    """Stream the document; ``trailer()`` is called after the last row (it reports what the
    collection could not see, which is only known then)."""
    head = {"schema_version": SCHEMA_VERSION, **(extra_head or {})}
    out.write(json.dumps(head)[:-1] + ', "connections": [')
    encoder = BatchEncoder(with_owners, names, ifname, owner_json, ext_json)
    separator = "\n"
    netns_tails: dict[int, str] = {}  # id(namespace) -> the row's last field, '"netns": {...}}'
    for batch in batches:
        rows = encoder.rows(batch)
        ns = batch.netns
        if ns is not None and rows:
            # --netns, --all-netns: every row ends with its namespace (docs/json.md)
            tail = netns_tails.get(id(ns))
            if tail is None:
                from pynetstat.model.netns_labels import netns_json

                tail = netns_tails[id(ns)] = ', "netns": ' + json.dumps(netns_json(ns)) + "}"
            rows = [row[:-1] + tail for row in rows]
        if rows:
            out.write(separator + ",\n".join(rows))
            separator = ",\n"
    tail = json.dumps(trailer())
    out.write("\n]" + (", " + tail[1:] if len(tail) > 2 else "}") + "\n")
