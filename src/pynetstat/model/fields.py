"""The field table: every field a socket record holds, declared once.

In the spirit of pyroute2's ``inet_diag_msg.fields``: a record class, its column batch, their
keyword-only constructors, and the JSON row are made from these rows, so adding a field is a row
here (plus the code that fills it), not an edit of every constructor call.

Three groups:
- **core**: what every kind of socket has (``CORE``);
- **endpoint**, per endpoint shape (``ENDPOINTS["inet"]``: addresses, ports, scope);
- **extensions**: filled only when a view asks the kernel for them (``EXTENSIONS``: timer,
  memory, tcp_info, tos, each a sock_diag attribute group); a batch carries them in one column
  of decoded records (``SocketBatch.extensions``), not as slots of every record, so a plain
  listing neither asks for them nor makes room for them.

A field is either per batch (``proto``, ``family``: one value for a whole dump) or a column (one
value per socket). ``owners`` is a column of the batch only: the owner join fills it, and rows
pair it with the record rather than storing it there.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    Record = TypeVar("Record")


class Field:
    """One field: its ``name`` (the attribute and column name), whether it is a column (one
    value per socket) or one value per batch, and what it holds."""

    __slots__ = ("name", "column", "doc")

    def __init__(self, name: str, doc: str, *, column: bool = True):
        self.name = name
        self.column = column
        self.doc = doc

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


CORE = (
    Field("proto", "protocol of the kind: 'tcp', 'udp', 'unix', 'raw', 'icmp', 'packet', "
          "'mptcp', 'vsock'", column=False),
    Field("family", "4 or 6 for inet, raw and icmp kinds; 0 for unix, packet and vsock",
          column=False),
    Field("state", "kernel state code (include/net/tcp_states.h)"),
    Field("inode", "socket inode; 0 when no file refers to it (TIME_WAIT, request sockets)"),
    Field("uid", "owner uid; None for TIME_WAIT and request sockets, which keep none"),
    Field("cookie", "the kernel's 64-bit socket cookie; None from /proc"),
    Field("recv_q", "receive queue; accept backlog for a listener"),
    Field("send_q", "send queue; backlog limit for a listener"),
)

# Endpoint fields per shape.
ENDPOINTS = {
    "inet": (
        Field("local_address", "numeric text: '127.0.0.1', '::1'"),
        Field("local_port", "int"),
        Field("remote_address", "numeric text"),
        Field("remote_port", "int"),
        Field("scope", "interface index of a bound or link-local socket, else 0"),
    ),
    # AF_UNIX (linux/unixdiag.py, /proc/net/unix)
    "unix": (
        Field("type", "SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5"),
        Field("path", "bound name as bytes (no leading NUL for an abstract one), None if unbound"),
        Field("abstract", "True: abstract name (@name); False: a path; None: the source cannot "
              "tell (/proc/net/unix prints both with a leading '@')"),
        Field("peer", "inode of the socket at the other end; 0 none; None: the source does not say"),
        Field("peer_path", "the peer's bound name (bytes), None when it has none or is unknown"),
        Field("peer_abstract", "``abstract`` of the peer's name"),
        Field("peer_owners", "tuple of Owner of the peer's inode; None until the owner join"),
        Field("verified", "True from unix_diag; False from /proc/net/unix (text others can forge)"),
        Field("duplicate", "another /proc/net/unix line names the same inode (a forgery)"),
    ),
    # RAW IPv4/IPv6 (raw_diag, /proc/net/raw[6]) and ICMP "ping" sockets (/proc/net/icmp[6])
    "raw": (
        Field("ip_protocol", "IP protocol number (1 ICMP, 58 ICMPv6, 255 IPPROTO_RAW, ...)"),
        Field("local_address", "numeric text"),
        Field("local_port", "raw: the protocol number the kernel prints as the port; "
              "ping: the ICMP echo identifier"),
        Field("remote_address", "numeric text"),
        Field("scope", "interface index of the bound device; 0 none (always 0 from /proc)"),
        Field("verified", "True from sock_diag; False from /proc"),
    ),
    # AF_PACKET (packet_diag, /proc/net/packet)
    "packet": (
        Field("type", "SOCK_RAW 3 (whole frames) or SOCK_DGRAM 2 (link header removed)"),
        Field("ethertype", "the protocol it receives (0x0003 ETH_P_ALL, 0x0800 IPv4)"),
        Field("scope", "interface index it is bound to, 0 for all"),
        Field("promiscuous", "a membership holds the interface promiscuous; None: unknown (/proc)"),
        Field("fanout", "(group id, mode) of its fanout group, or None"),
        Field("rx_ring", "PacketRing of its PACKET_RX_RING, or None"),
        Field("tx_ring", "PacketRing of its PACKET_TX_RING, or None"),
        Field("verified", "True from packet_diag; False from /proc/net/packet"),
    ),
    # AF_VSOCK (vsock_diag): ends are (CID, port); 4294967295 is VMADDR_CID_ANY / VMADDR_PORT_ANY
    "vsock": (
        Field("type", "SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5"),
        Field("local_cid", "the context ID it is bound to"),
        Field("local_port", "int"),
        Field("remote_cid", "the peer's context ID; VMADDR_CID_ANY when unconnected"),
        Field("remote_port", "int"),
    ),
}

# Extension groups: each what one sock_diag attribute group fills (include/uapi/linux/inet_diag.h:
# INET_DIAG_INFO + INET_DIAG_CONG -> struct tcp_info and the algorithm, INET_DIAG_SKMEMINFO ->
# u32[SK_MEMINFO_VARS], INET_DIAG_TOS/TCLASS; the timer is in every inet_diag_msg). A view asks
# for a group by name (Options.extension_groups; the request bits: linux/diagext.GROUP_BITS);
# each group is one object of the JSON row (render/extensions.py writes them, docs/json.md
# lists their fields). They are not record slots: see the module docstring.
EXTENSIONS: dict[str, tuple[Field, ...]] = {
    "timer": (Field("timer", "the pending timer: kind, ms until it fires, retransmissions"),),
    "memory": (Field("memory", "socket memory (skmeminfo), bytes; drops in packets"),),
    "tcp_info": (Field("tcp_info", "struct tcp_info and the congestion algorithm"),
                 Field("mptcp_info", "struct mptcp_info, of an MPTCP socket")),
    "tos": (Field("dscp", "DSCP of the packets the socket sends: TOS / traffic class >> 2"),),
    # -i: the timer and tcp_info's last_* times; its JSON is the timer and tcp_info objects
    "times": (),
}

# The batch's own column, filled by the owner join: one tuple of Owner per socket.
OWNERS = Field("owners", "tuple of Owner per socket, lowest PID first; None until joined")


def record_fields(shape: str) -> tuple[Field, ...]:
    """Every field of a record of this endpoint shape, in slot order."""
    return CORE + ENDPOINTS[shape]


def record_slots(shape: str) -> tuple[str, ...]:
    return tuple(f.name for f in record_fields(shape))


def batch_columns(shape: str) -> tuple[str, ...]:
    """The per-socket columns of a batch of this shape (without ``owners``)."""
    return tuple(f.name for f in record_fields(shape) if f.column)


def batch_constants(shape: str) -> tuple[str, ...]:
    """The per-batch values of this shape (``proto``, ``family``)."""
    return tuple(f.name for f in record_fields(shape) if not f.column)


def keyword_init(names: tuple[str, ...], defaults: dict[str, Any] | None = None,
                 extra: str = "") -> Callable[..., None]:
    """An ``__init__(self, *, a, b, ...)`` that stores each keyword in its slot, made from the
    table as ``namedtuple`` makes its ``__new__``: a plain function, as fast as a hand-written one
    (a listing may build 200,000 records)."""
    defaults = defaults or {}
    params = ", ".join(f"{n}={defaults[n]!r}" if n in defaults else n for n in names)
    body = "".join(f"\n    self.{n} = {n}" for n in names) + (f"\n    {extra}" if extra else "")
    namespace: dict[str, Any] = {}
    exec(f"def __init__(self, *, {params}):{body or chr(10) + '    pass'}", namespace)
    init: Callable[..., None] = namespace["__init__"]
    return init


def positional_maker(cls: type[Record], names: tuple[str, ...]) -> Callable[..., Record]:
    """``make(a, b, ...)`` -> a record of ``cls`` with those slots, in table order: the batch's
    own fast path from columns to records (``zip`` of the columns feeds it), never called with
    hand-written arguments."""
    params = ", ".join(names)
    body = "".join(f"\n    s.{n} = {n}" for n in names)
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    exec(f"def make({params}):\n    s = _new(_cls){body}\n    return s", namespace)
    make: Callable[..., Record] = namespace["make"]
    return make


# --- the JSON row of a connection (docs/json.md, "A connection") -------------------------------
# (name, documented type), in the order a row is written. tests/test_json_schema.py checks that
# docs/json.md documents exactly these, and render/jsonout.py writes exactly these, in this order.
CONNECTION_JSON = (
    ("proto", "string"),
    ("family", "string"),
    ("local_address", "string"),
    ("local_port", "int"),
    ("remote_address", "string"),
    ("remote_port", "int"),
    ("state", "string or null"),
    ("kernel_state", "string"),
    ("interface", "string or null"),
    ("link_local", "bool"),
    ("ipv4_mapped", "bool"),
    ("recv_q", "int"),
    ("send_q", "int"),
    ("uid", "int or null"),
    ("inode", "int"),
    ("cookie", "int or null"),
    ("pid", "int or null"),
    ("owners", "array of object, or null"),
    # the other end on this host (model/peers.py), with owners asked for
    ("peer_inode", "int or null"),
    ("peer_pid", "int or null"),
    ("peer_owners", "array of object, or null"),
    ("local_service", "string or null"),
    ("remote_service", "string or null"),
    ("remote_host", "string or null"),
    # extension groups (EXTENSIONS), null unless asked for: -d, --timers, --memory, --info
    # (tcp_info, and mptcp_info for an MPTCP socket)
    ("dscp", "int or null"),
    ("timer", "object or null"),
    ("memory", "object or null"),
    ("tcp_info", "object or null"),
    ("mptcp_info", "object or null"),
)

# --- the JSON rows of the other kinds (docs/json.md: "A UNIX socket", "A RAW or ICMP socket",
# "A packet socket"): the fields every kind shares, then the shape's own.
COMMON_JSON = (
    ("proto", "string"),
    ("family", "string"),
    ("state", "string or null"),
    ("kernel_state", "string"),
    ("recv_q", "int or null"),
    ("send_q", "int or null"),
    ("uid", "int or null"),
    ("inode", "int"),
    ("cookie", "int or null"),
    ("pid", "int or null"),
    ("owners", "array of object, or null"),
)

SHAPE_JSON = {
    "unix": COMMON_JSON + (
        ("type", "string"),
        ("path", "string or null"),
        ("abstract", "bool or null"),
        ("peer_inode", "int or null"),
        ("peer_path", "string or null"),
        ("peer_abstract", "bool or null"),
        ("peer_pid", "int or null"),
        ("peer_owners", "array of object, or null"),
        ("verified", "bool"),
        ("duplicate", "bool"),
    ),
    "raw": COMMON_JSON + (
        ("ip_protocol", "int"),
        ("ip_protocol_name", "string or null"),
        ("local_address", "string"),
        ("local_port", "int"),
        ("remote_address", "string"),
        ("interface", "string or null"),
        ("verified", "bool"),
    ),
    "packet": COMMON_JSON + (
        ("type", "string"),
        ("ethertype", "int"),
        ("ethertype_name", "string or null"),
        ("interface", "string or null"),
        ("promiscuous", "bool or null"),
        ("fanout", "object or null"),
        ("rx_ring", "object or null"),
        ("tx_ring", "object or null"),
        ("verified", "bool"),
    ),
    "vsock": COMMON_JSON + (
        ("type", "string"),
        ("local_cid", "int"),
        ("local_port", "int"),
        ("remote_cid", "int"),
        ("remote_port", "int"),
    ),
}
