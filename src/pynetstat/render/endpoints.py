"""How one socket's cells read: addresses, ports, state, PIDs. Shared by the text and JSON renderers."""

from __future__ import annotations

from pynetstat.kinds import BY_PROTOCOL, LABELS, WITH_STATE
from pynetstat.model.sockets import (
    ETHERTYPES,
    IP_PROTOCOLS,
    SOCK_TYPE_WORDS,
    UNIX_STATE_WORDS,
    spec_state_name,
)
from pynetstat.textsafe import safe_token, width

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pynetstat.model.sockets import (
        InetSocket,
        Owner,
        PacketSocketRecord,
        RawSocketRecord,
        SocketBatch,
        UnixSocketRecord,
        VsockSocketRecord,
    )
    from pynetstat.resolve import Names

    IfName = Callable[[int], str]  # an interface index -> its name
    Cells = tuple[str, str, str, str]  # Proto, Local Address, Foreign Address, State
    AnySocket = (InetSocket | UnixSocketRecord | RawSocketRecord | PacketSocketRecord
                 | VsockSocketRecord)

PROTO_LABELS = LABELS  # InetSocket.proto -> the table's Proto cell, from the kind table


class Memo(dict):  # type: ignore[type-arg]  # any key -> make(key), whatever the memo holds
    """``key -> make(key)``, made on first use and kept: a listing of 200,000 rows has a few
    distinct addresses, states and owner sets, so each cell's text is made once per value and
    looked up (``map(memo.__getitem__, column)``, in C) per row."""

    def __init__(self, make: Callable[[Any], Any], known: dict[Any, Any] | None = None):
        super().__init__(known or ())
        self.make = make

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self.make(key)
        return value
WILDCARD = {"0.0.0.0", "::"}


def is_link_local(address: str) -> bool:
    """fe80::/10 (RFC 4291 2.5.6: a first group of fe80 to febf) or 169.254.0.0/16 (RFC 3927)."""
    head = address[:5].lower()
    return ((head[:3] in _FE80_10 and head[3:4] in _HEX and head[4:5] == ":")
            or address.startswith("169.254."))


_FE80_10 = frozenset(("fe8", "fe9", "fea", "feb"))  # the 10 bits 1111 1110 10, then any 2 bits
_HEX = frozenset("0123456789abcdef")


def is_ipv4_mapped(address: str) -> bool:
    """``"::ffff:127.0.0.1"`` is an IPv4 peer of an IPv6 socket."""
    return address.startswith("::ffff:") and "." in address


def host_text(address: str, family: int, scope: int, ifname: Callable[[int], str],
              bound: bool = False) -> str:
    """``127.0.0.1`` / ``[::1]`` / ``[fe80::1%eth0]``: IPv6 in brackets, link-local with its
    interface. ``bound``: the local end, whose ``scope`` is also the device a socket is bound to
    (SO_BINDTODEVICE), shown as ss shows it: ``0.0.0.0%va``, ``[::%va]``."""
    if scope and (bound or (family == 6 and is_link_local(address))):
        # Linux allows any byte in an interface name but '/', ':' and white space: escape it.
        zoned = f"{address}%{safe_token(ifname(scope))}"
        return zoned if family == 4 else f"[{zoned}]"
    return address if family == 4 else f"[{address}]"


def state_text(sock: InetSocket) -> str:
    """The spec's state name for kinds with a State column (TCP); UDP has none in the spec's table."""
    return spec_state_name(sock.state) if sock.proto in WITH_STATE else ""


def pid_text(pids: tuple[int, ...]) -> str:
    """``(812,) -> "812"``; ``(812, 813, 814) -> "812"``: one integer, the lowest PID, as Windows
    prints it (scripts and jc read the last column as a PID; ``812+2`` read as 8122). -b lists
    every holder under the row, --json gives each owner. ``() -> "-"`` (no visible owner: never
    an invented 0)."""
    return str(min(pids)) if pids else "-"


def endpoint_cells(sock: InetSocket, ifname: Callable[[int], str],
                   names: Names | None) -> tuple[str, str]:
    """The Local Address and Foreign Address cells.

    Numeric (``names is None``) they read ``127.0.0.1:5432``. With names, ports become service
    names where the services database has one, and the foreign host its name where the resolver
    answered in time (``Names.display_host``: its first label, all of it with -f); local addresses stay numeric, as in the spec's netstat. An unconnected UDP
    socket's foreign address is ``*:*``.
    """
    local_host = host_text(sock.local_address, sock.family, sock.scope, ifname, bound=True)
    lport: int | str = sock.local_port
    rport: int | str = sock.remote_port
    remote_host = host_text(sock.remote_address, sock.family, sock.scope, ifname)
    if names is not None:
        lport = names.service(sock.local_port, sock.proto) or lport
        if sock.remote_port:
            rport = names.service(sock.remote_port, sock.proto) or rport
        name = names.display_host(sock.remote_address)
        if name:
            remote_host = safe_token(name)
    local = f"{local_host}:{lport}"
    if sock.proto not in WITH_STATE and sock.remote_port == 0 and sock.remote_address in WILDCARD:
        return local, "*:*"
    return local, f"{remote_host}:{rport}"


def row_cells(sock: AnySocket, ifname: IfName, names: Names | None) -> Cells:
    """Proto, Local Address, Foreign Address and State of any kind's record, by its shape."""
    kind = BY_PROTOCOL[(sock.proto, sock.family)]
    return SHAPE_CELLS[kind.shape](sock, kind.label, ifname, names)


def _inet_cells(sock: InetSocket, label: str, ifname: IfName, names: Names | None) -> Cells:
    local, foreign = endpoint_cells(sock, ifname, names)
    return label, local, foreign, state_text(sock)


def unix_name(path: bytes | None, abstract: bool | None) -> str:
    """A UNIX socket's name as a cell: ``@name`` for an abstract name, the path for a path (one
    that itself starts with ``@`` shows as ``\\@...``, which no escaped name can read as, since
    ``safe`` doubles every backslash), as /proc printed it when the source cannot tell (``abstract``
    None), ``*`` when unbound. Escaped as every untrusted string, spaces too (one cell)."""
    if path is None:
        return "*"
    text = safe_token(path)
    if abstract:
        return "@" + text
    if abstract is False and text.startswith("@"):
        return "\\" + text
    return text


def owner_text(owners: tuple[Owner, ...]) -> str:
    """``812/psql``: the lowest PID holding a socket and its name (net-tools' PID/Program name)."""
    owner = min(owners, key=lambda o: o.pid)
    return str(owner.pid) if owner.name is None else f"{owner.pid}/{safe_token(owner.name)}"


def unix_peer_text(peer: int | None, path: bytes | None, abstract: bool | None,
                   owners: tuple[Owner, ...] | None) -> str:
    """The Foreign Address of a UNIX socket: the peer's name; with no name, the process at the
    other end (with -o/-b), else the peer's inode; ``*`` when it has no peer."""
    if not peer:
        return "*"
    if path is not None:
        return unix_name(path, abstract)
    if owners:
        return owner_text(owners)
    return f"inode:{peer}"


def unix_state_text(stype: int, state: int, duplicate: bool) -> str:
    """net-tools' Type and State: ``STREAM LISTENING``, ``DGRAM`` (unconnected); ``DUPLICATE``
    first for a /proc line whose inode another line names too."""
    word = UNIX_STATE_WORDS.get(state)
    words = [SOCK_TYPE_WORDS.get(stype, f"TYPE({stype})"),
             f"UNKNOWN({state})" if word is None else word]
    if duplicate:
        words.insert(0, "DUPLICATE")
    return " ".join(w for w in words if w)


def _unix_cells(sock: UnixSocketRecord, label: str, ifname: IfName, names: Names | None
                ) -> Cells:
    return (label, unix_name(sock.path, sock.abstract),
            unix_peer_text(sock.peer, sock.peer_path, sock.peer_abstract, sock.peer_owners),
            unix_state_text(sock.type, sock.state, sock.duplicate))


class Widest:
    """The widest cell (in terminal columns, ``textsafe.width``) of a column's memos so far,
    and whether every cell they made is ASCII: what the table would measure row by row, known
    without a pass over the rows (``UnixColumns.widest``)."""

    __slots__ = ("columns", "ascii")

    def __init__(self) -> None:
        self.columns = 0
        self.ascii = True

    def known(self) -> tuple[int, bool]:
        """``(columns, ascii)`` now: later cells may widen the memo, not the rows before."""
        return self.columns, self.ascii

    def add(self, cell: str) -> str:
        if cell.isascii():
            n = len(cell)
        else:
            self.ascii = False
            n = width(cell)
        if n > self.columns:
            self.columns = n
        return cell


class UnixColumns:
    """The Local, Foreign and State cells of a batch of UNIX sockets, a column at a time: each
    distinct name, owners tuple and (type, state) is made into text once (``Memo``) and looked
    up per row (``map``: by namespace then name, by type then state, no tuple per row), and
    the ``inode:N`` of the peers with no name made by one ``%`` for the batch: no call per row.
    The same text as ``_unix_cells`` row by row.

    ``widest`` says, after each ``cells``, how wide each column's cells have been so far and
    whether all were ASCII (``Widest.known``, or None for a column to measure row by row): every
    cell comes from a memo that measured it once when it made it, or from the ``inode:N`` texts,
    whose widest is that of the largest inode. The table's columns never shrink, so the widest
    cell made so far widens them as the rows so far would."""

    def __init__(self) -> None:
        self.widest_local, self.widest_foreign, self.widest_state = Widest(), Widest(), Widest()
        self.foreign_shown = True  # False once a name looked up for the column was not shown
        self.names: dict[tuple[bytes, bool | None], str] = Memo(lambda key: unix_name(*key))
        # abstract (True, False, None) -> path -> the cell; one memo per column, each measuring
        # the cells it makes
        self.local = self._by_abstract(self.widest_local)
        self.foreign = self._by_abstract(self.widest_foreign)
        self.owners: dict[tuple[Owner, ...], str] = Memo(owner_text)
        self.states = Memo(lambda key: self.widest_state.add(unix_state_text(*key)))
        # type -> state -> the cell, of a socket not marked DUPLICATE
        self.by_type = Memo(lambda stype: Memo(
            lambda state: self.widest_state.add(unix_state_text(stype, state, False))))
        self.widest: tuple[tuple[int, bool] | None, ...] = (None, None, None)

    @staticmethod
    def _by_abstract(widest: Widest) -> Memo:
        return Memo(lambda abstract: Memo(lambda path: widest.add(unix_name(path, abstract))))

    def cells(self, batch: SocketBatch) -> tuple[list[str], list[str], list[str]]:
        # here, not at the top: a listing without UNIX sockets imports no more (test_import_pin)
        from itertools import compress, count, repeat
        from operator import is_, not_

        named = dict.__getitem__
        local = list(map(named, map(self.local.__getitem__, batch.abstract), batch.path))
        if any(batch.duplicate):
            state = list(map(self.states.__getitem__, zip(batch.type, batch.state, batch.duplicate)))
        else:
            types, states = batch.type, batch.state
            if types and types.count(types[0]) == len(types):  # one type, as usual: one map
                if states.count(states[0]) == len(states):  # and one state: one cell
                    state = [self.by_type[types[0]][states[0]]] * len(states)
                else:
                    state = list(map(self.by_type[types[0]].__getitem__, states))
            else:
                state = list(map(named, map(self.by_type.__getitem__, batch.type), batch.state))
        peer_owners, peer, peer_path = batch.peer_owners, batch.peer, batch.peer_path
        assert peer is not None  # a UNIX batch's column, never left unset
        if peer_owners is not None and None not in peer_owners:  # -o, -b: rows may need owners
            self.widest = (self.widest_local.known(), None, self.widest_state.known())
            return local, list(map(self._peer, peer, peer_path, batch.peer_abstract,
                                   peer_owners)), state
        # The peer's name ("*": unbound); then the rows where that is not the cell: a peer with
        # no name (its inode), a name and no peer ("*": no source gives that; cheap to be exact).
        # (Its memo also makes the "*" of a peer with no name, shown as its inode instead: one
        # character, narrower than any column's least width, so its measure widens nothing.)
        foreign = list(map(named, map(self.foreign.__getitem__, batch.peer_abstract), peer_path))
        known = self.foreign_shown
        rows = list(compress(count(), map(is_, peer_path, repeat(None))))  # no peer's name
        if rows:
            peers = tuple(map(peer.__getitem__, rows))
            if all(peers):
                texts = ("\0".join(["inode:%d"] * len(rows)) % peers).split("\0")
                # the longest text is the largest inode's (more digits, never a sign)
                self.widest_foreign.add(f"inode:{max(peers)}")
            else:
                texts = [f"inode:{p}" if p else "*" for p in peers]
                for text in texts:
                    self.widest_foreign.add(text)
            list(map(foreign.__setitem__, rows, texts))
        if len(rows) < len(peer) and not all(peer):  # a name and no peer
            for i in compress(count(), map(not_, peer)):
                foreign[i] = "*"
            # the name looked up is not shown, yet its memo measured it: measure the column
            self.foreign_shown = known = False
        self.widest = (self.widest_local.known(), self.widest_foreign.known() if known else None,
                       self.widest_state.known())
        return local, foreign, state

    def _peer(self, peer: int | None, path: bytes | None, abstract: bool | None,
              owners: tuple[Owner, ...]) -> str:
        if not peer:
            return "*"
        if path is not None:
            return self.names[path, abstract]
        if owners:
            return self.owners[owners]
        return f"inode:{peer}"


def _raw_cells(sock: RawSocketRecord, label: str, ifname: IfName, names: Names | None) -> Cells:
    """``0.0.0.0:icmp  *:*``: the protocol in the port's place (a number with -n), as ss -w
    prints it; a ping socket's port is its ICMP echo identifier."""
    host = host_text(sock.local_address, sock.family, sock.scope, ifname, bound=True)
    port: int | str = sock.local_port
    if names is not None and sock.proto == "raw":
        port = IP_PROTOCOLS.get(sock.ip_protocol, port)
    if sock.remote_address in WILDCARD:
        foreign = "*:*"
    else:
        foreign = host_text(sock.remote_address, sock.family, 0, ifname) + ":*"
    return label, f"{host}:{port}", foreign, ""


def _packet_cells(sock: PacketSocketRecord, label: str, ifname: IfName, names: Names | None
                  ) -> Cells:
    """``eth0:all  *  RAW PROMISC``: the interface it is bound to (``*``: all) and the
    ethertype it receives; in the State column its type and PROMISC, FANOUT, RX_RING, TX_RING."""
    where = safe_token(ifname(sock.scope)) if sock.scope else "*"
    ethertype = ETHERTYPES.get(sock.ethertype) if names is not None else None
    words = [SOCK_TYPE_WORDS.get(sock.type, f"TYPE({sock.type})")]
    if sock.promiscuous:
        words.append("PROMISC")
    if sock.fanout is not None:
        words.append(f"FANOUT({sock.fanout[0]})")
    if sock.rx_ring is not None:
        words.append("RX_RING")
    if sock.tx_ring is not None:
        words.append("TX_RING")
    return label, f"{where}:{ethertype or f'0x{sock.ethertype:04x}'}", "*", " ".join(words)


VSOCK_ANY = 0xFFFFFFFF  # VMADDR_CID_ANY, VMADDR_PORT_ANY (include/uapi/linux/vm_sockets.h)


def vsock_end(cid: int, port: int) -> str:
    """``2:1024``: a vsock end as ss prints it, ``*`` for the wildcard CID or port.

    >>> vsock_end(2, 1024), vsock_end(0xFFFFFFFF, 0xFFFFFFFF)
    ('2:1024', '*:*')
    """
    return (f"{'*' if cid == VSOCK_ANY else cid}:{'*' if port == VSOCK_ANY else port}")


def vsock_state_text(stype: int, state: int) -> str:
    """The socket type, then the spec's state name of its ``sk_state`` (TCP's numbering):
    ``STREAM LISTENING``, ``STREAM ESTABLISHED``, ``DGRAM CLOSED``."""
    return f"{SOCK_TYPE_WORDS.get(stype, f'TYPE({stype})')} {spec_state_name(state)}"


def _vsock_cells(sock: VsockSocketRecord, label: str, ifname: IfName, names: Names | None
                 ) -> Cells:
    return (label, vsock_end(sock.local_cid, sock.local_port),
            vsock_end(sock.remote_cid, sock.remote_port), vsock_state_text(sock.type, sock.state))


# endpoint shape -> (sock, Proto label, ifname, names) -> the four cells
SHAPE_CELLS: dict[str, Callable[[Any, str, IfName, Names | None], Cells]] = {"inet": _inet_cells, "unix": _unix_cells, "raw": _raw_cells,
               "packet": _packet_cells, "vsock": _vsock_cells}
