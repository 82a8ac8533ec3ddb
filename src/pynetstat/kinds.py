"""The table of socket kinds, as ss keeps ``default_dbs`` and psutil ``NetConnections.tmap``.

One row per kind. Everything that differs between kinds reads its row: ``-p`` and its help, the
connection table's Proto label and State column, the JSON ``proto`` name, the sources to try
(the sock_diag request, its decoder, the /proc file and its parser), the states listed with and
without ``-a``, and the endpoint shape with its record class (model/fields.py, model/sockets.py).

Adding a kind is a row here plus its decoder (and /proc parser) registered by name in
linux/sockets.py; this module names them rather than importing them, because the collectors in
linux/ are above it in the flow.
"""

from __future__ import annotations

from pynetstat.model.sockets import BATCHES, RECORDS, TCP_BOUND_INACTIVE, TCP_CLOSE, TCP_LISTEN

# Socket states as bit masks (bit N = kernel state N), as sock_diag's idiag_states takes them.
# BOUND_INACTIVE (bound, never listened) is not a connection.
ALL_STATES = 0xFFFFFFFF & ~(1 << TCP_BOUND_INACTIVE)
# Without -a: the spec's "active connections": no listeners, no unconnected or closed sockets.
ACTIVE_STATES = ALL_STATES & ~(1 << TCP_LISTEN) & ~(1 << TCP_CLOSE)


def in_states(states: int, state: int) -> bool:
    """Is ``state`` in the mask? A state of 32 or more (sk_state is a u8) is past the mask's
    bits: no mask can leave it out, so it is listed (as ``UNKNOWN(n)``), never dropped unseen."""
    return state > 31 or (states >> state) & 1 == 1


# include/linux/socket.h, include/uapi/linux/in.h
_AF_INET, _AF_INET6 = 2, 10  # AF_INET, AF_INET6
IPPROTO_TCP, IPPROTO_UDP = 6, 17


class SocketKind:
    """One row of the table; every attribute is fixed once the table is made."""

    __slots__ = ("name", "option", "label", "protocol", "family", "diag_family", "diag_protocol",
                 "decoder", "proc_file", "proc_parser", "default_states", "all_states", "shape",
                 "record", "batch", "has_state", "spec")

    def __init__(self, *, name: str, option: str, label: str, protocol: str, family: int,
                 diag_family: int, diag_protocol: int, decoder: str, proc_file: str,
                 proc_parser: str, default_states: int | None, all_states: int, shape: str,
                 has_state: bool, spec: bool = True):
        self.name = name  # "tcp6": the JSON proto name, the key of "sources"
        self.option = option  # "TCPv6": what -p takes and the help lists
        self.label = label  # "TCP": the Proto cell of the text table
        self.protocol = protocol  # "tcp": the services database's protocol, InetSocket.proto
        self.family = family  # 4 or 6; 0 for a kind of no IP family (unix, packet)
        self.diag_family = diag_family  # sock_diag request: sdiag_family (AF_*)
        self.diag_protocol = diag_protocol  # sock_diag request: sdiag_protocol (IPPROTO_*)
        # name of the dump decoder (linux/sockets.py DECODERS); "": no kernel has a sock_diag
        # handler for the kind (ping sockets), its /proc file is the source
        self.decoder = decoder
        self.proc_file = proc_file  # the fallback, below the /proc root: "net/tcp6"
        self.proc_parser = proc_parser  # name of its parser (linux/sockets.py PARSERS)
        # States listed without -a (None: the kind is listed only with -a), and with -a.
        self.default_states = default_states
        self.all_states = all_states
        self.shape = shape  # endpoint shape: "inet" (addresses and ports)
        self.record = RECORDS[shape]  # the record class of that shape
        self.batch = BATCHES[shape]  # its column batch
        self.has_state = has_state  # a State column (TCP) or none (UDP)
        # one of the spec's kinds, listed without -p; the others only when -p names them
        self.spec = spec

    def states(self, all: bool) -> int | None:
        """The state mask to list with or without ``-a``; ``None``: not listed."""
        return self.all_states if all else self.default_states

    def __repr__(self) -> str:
        return f"SocketKind({self.name!r})"


def _inet(protocol: str, family: int, ipproto: int, active: int | None,
          has_state: bool, decoder: str = "inet_diag", proc: bool = True,
          spec: bool = True) -> SocketKind:
    """An inet kind: the spec's TCP and UDP, or (``spec=False``) one listed only when ``-p``
    names it. ``proc=False``: the kernel keeps no /proc/net file of it (MPTCP, SCTP: no
    fallback; without its diag module the kind cannot be listed, and a note says so)."""
    name = protocol + ("6" if family == 6 else "")
    return SocketKind(
        name=name, option=protocol.upper() + ("v6" if family == 6 else ""),
        label=protocol.upper(), protocol=protocol, family=family,
        diag_family=_AF_INET6 if family == 6 else _AF_INET, diag_protocol=ipproto,
        decoder=decoder, proc_file=f"net/{name}" if proc else "",
        proc_parser="inet" if proc else "", default_states=active, all_states=ALL_STATES,
        shape="inet", has_state=has_state, spec=spec)


_AF_UNIX, _AF_PACKET, _AF_VSOCK = 1, 17, 40
IPPROTO_RAW = 255
# MPTCP's number does not fit sdiag_protocol (a u8): the request names it in an attribute
# (linux/sockdiag.request_for). include/uapi/linux/in.h
IPPROTO_MPTCP = 262
IPPROTO_SCTP = 132


def _other(name: str, option: str, label: str, family: int, diag_family: int, decoder: str,
           proc_parser: str, active: int | None, shape: str, has_state: bool) -> SocketKind:
    """A kind beyond the spec's: listed only when ``-p`` names it (or ``-p all``). No
    ``proc_parser``: the kernel keeps no /proc/net file of it."""
    return SocketKind(
        name=name, option=option, label=label, protocol=name.rstrip("6"), family=family,
        diag_family=diag_family, diag_protocol=IPPROTO_RAW if shape == "raw" else 0,
        decoder=decoder, proc_file=f"net/{name}" if proc_parser else "", proc_parser=proc_parser,
        default_states=active, all_states=ALL_STATES, shape=shape, has_state=has_state,
        spec=False)


# In the order they are listed (the spec's netstat: TCP, TCPv6... as ours always was: tcp, tcp6,
# udp, udp6). The spec's netstat lists UDP only with -a: UDP has no connections to be "active".
# The kinds beyond the spec's follow. A UNIX socket without -a is listed when connected (as TCP);
# RAW, ICMP ("ping") and packet sockets have no connections to be active: -a lists them (as UDP).
# MPTCP connections are TCP's (the socket a program holds; its subflows are TCP sockets and are
# listed as TCP): without -a the connected ones. No /proc file lists MPTCP sockets. VSOCK
# sockets (to and from virtual machines) are listed as UNIX ones: without -a the connected ones;
# vsock_diag is their only source. SCTP: sctp_diag's replies are not decoded yet (an
# association's state is in SCTP's own numbering, its addresses in attributes); where the
# kernel has no sctp_diag (no SCTP at all, or the module missing) a note says so.
KINDS = (
    _inet("tcp", 4, IPPROTO_TCP, ACTIVE_STATES, True),
    _inet("tcp", 6, IPPROTO_TCP, ACTIVE_STATES, True),
    _inet("udp", 4, IPPROTO_UDP, None, False),
    _inet("udp", 6, IPPROTO_UDP, None, False),
    _other("unix", "UNIX", "UNIX", 0, _AF_UNIX, "unix_diag", "unix", ACTIVE_STATES, "unix", True),
    _other("raw", "RAW", "RAW", 4, _AF_INET, "raw_diag", "raw", None, "raw", False),
    _other("raw6", "RAWv6", "RAW", 6, _AF_INET6, "raw_diag", "raw", None, "raw", False),
    _other("icmp", "ICMP", "ICMP", 4, _AF_INET, "", "ping", None, "raw", False),
    _other("icmp6", "ICMPv6", "ICMP", 6, _AF_INET6, "", "ping", None, "raw", False),
    _other("packet", "PACKET", "PACKET", 0, _AF_PACKET, "packet_diag", "packet", None, "packet",
           False),
    _inet("mptcp", 4, IPPROTO_MPTCP, ACTIVE_STATES, True, "mptcp_diag", False, False),
    _inet("mptcp", 6, IPPROTO_MPTCP, ACTIVE_STATES, True, "mptcp_diag", False, False),
    _inet("sctp", 4, IPPROTO_SCTP, ACTIVE_STATES, True, "sctp_diag", False, False),
    _inet("sctp", 6, IPPROTO_SCTP, ACTIVE_STATES, True, "sctp_diag", False, False),
    _other("vsock", "VSOCK", "VSOCK", 0, _AF_VSOCK, "vsock_diag", "", ACTIVE_STATES, "vsock",
           True),
)

BY_NAME = {kind.name: kind for kind in KINDS}
BY_OPTION = {kind.option: kind for kind in KINDS}
# (protocol, family) -> kind: records carry these two (InetSocket.proto, .family)
BY_PROTOCOL = {(kind.protocol, kind.family): kind for kind in KINDS}
# Proto cell of the text table, by InetSocket.proto
LABELS = {kind.protocol: kind.label for kind in KINDS}
# Kinds with a State column, by InetSocket.proto
WITH_STATE = frozenset(kind.protocol for kind in KINDS if kind.has_state)

# -p values of the connection table, in the spec's order (the help lists them so): IPv4 kinds
# first, then IPv6 ("TCP", "UDP", "TCPv6", "UDPv6"); then the kinds beyond the spec's, in table
# order; then ALL, every kind.
ALL_OPTION = "all"
CONNECTION_PROTOCOLS = (tuple(kind.option for kind in sorted((k for k in KINDS if k.spec),
                                                             key=lambda k: k.family))
                        + tuple(kind.option for kind in KINDS if not kind.spec) + (ALL_OPTION,))


def option_values() -> tuple[str, ...]:
    """What ``-p`` takes for the connection table, for the help and the parser."""
    return CONNECTION_PROTOCOLS


def option_text() -> str:
    """The ``-p`` values as the help lists them: ``"TCP, UDP, TCPv6 or UDPv6"``."""
    *first, last = CONNECTION_PROTOCOLS
    return f"{', '.join(first)} or {last}" if first else last


def chosen_options(options: tuple[str, ...]) -> tuple[str, ...]:
    """The kinds' ``-p`` values a list of canonical values names, in table order, each once
    (``ALL_OPTION``: every kind)."""
    wanted = set(options)
    return tuple(kind.option for kind in KINDS
                 if ALL_OPTION in wanted or kind.option in wanted)


def selection(options: tuple[str, ...] | None, all: bool) -> list[tuple[SocketKind, int]]:
    """``(kind, state mask)`` to list for ``-p`` (canonical ``-p`` values; None: the spec's
    kinds) and ``-a``."""
    if options is None:
        chosen = tuple(kind for kind in KINDS if kind.spec)
    else:
        chosen = tuple(BY_OPTION[option] for option in chosen_options(options))
    listed = []
    for kind in chosen:
        states = kind.states(all)
        if states is not None:
            listed.append((kind, states))
    return listed
