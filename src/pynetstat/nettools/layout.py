"""The socket tables as net-tools 2.10 prints them (netstat.c: ``tcp_do_one``, ``udp_do_one``,
``raw_do_one``, ``finish_this_one``, ``unix_do_one``, ``igmp_do_one``).

Every width below is net-tools' printf format, cited beside it; the rows are compared with real
net-tools output by tests/test_nettools_live.py.
"""

from __future__ import annotations

from itertools import repeat

from pynetstat.model.sockets import TCP_LISTEN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from pynetstat.linux.diagrecords import RawSocket
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.nettools.flags import NetToolsOptions
    from pynetstat.nettools.sources import Group, Programs, Timers, UnixLine
    from pynetstat.resolve import Names

# netstat.c tcp_state[], indexed by the kernel state (include/net/tcp_states.h)
TCP_STATES = ("", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
              "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING")
_TCP_STATE_OF = {12: 3}  # NEW_SYN_RECV: /proc/net/tcp lists a request socket as SYN_RECV
_TIMER_NAMES = {0: "off", 1: "on", 2: "keepalive", 3: "timewait", 4: "probe"}
_SHORT_LEN = 22  # addr_do_one(..., 22, ...): address and port without -W


def servers_word(opts: NetToolsOptions) -> str:
    if opts.all:
        return "(servers and established)"
    return "(only servers)" if opts.listening else "(w/o servers)"


def inet_header(opts: NetToolsOptions) -> str:
    """``Active Internet connections (...)`` and the column line (netstat.c ``main``)."""
    line = "Proto Recv-Q Send-Q Local Address           Foreign Address         State      "
    if opts.extend:
        line += " User       Inode     "
    if opts.programs:
        line += " " + f"{'PID/Program name':<20}"
    if opts.timers:
        line += " Timer"
    return f"Active Internet connections {servers_word(opts)}\n{line}\n"


class Endpoints:
    """Address and port text: ``addr_do_one`` with ``INET_sprint``/``INET6_sprint`` and
    ``get_sname``."""

    def __init__(self, opts: NetToolsOptions, names: Names | None):
        self.wide = opts.wide
        self.hosts = None if opts.numeric_hosts else names
        self.ports = None if opts.numeric_ports else names

    def host(self, address: str, family: int) -> str:
        if address.startswith("::ffff:") and "." in address:
            address = address[7:]  # lib/inet6.c fix_v4_address: a mapped address as IPv4
        if self.hosts is None:
            return address
        if address in ("::", "0.0.0.0"):
            return "[::]" if address == "::" else address
        name = self.hosts.host(address)
        return name if name else address

    def port(self, port: int, proto: str) -> str:
        if port == 0:
            return "*"
        if self.ports is not None:
            name = self.ports.service(port, proto)
            if name:
                return name
        return str(port)

    def column(self, addresses: Sequence[str], ports: Sequence[int], family: int, proto: str
               ) -> list[str]:
        """``__call__`` over two columns; with -n, a few C-level maps and fixes of the rare cells
        (a mapped address, port 0, an endpoint too long for its column)."""
        if self.hosts is not None or self.ports is not None:
            return [self(a, p, family, proto) for a, p in zip(addresses, ports)]
        if family == 6:
            addresses = [a[7:] if a.startswith("::ffff:") and "." in a else a for a in addresses]
        cells = list(map("{}:{}".format, addresses, ports))
        if 0 in ports:
            cells = [c if p else c[:-1] + "*" if c.endswith(":0") else c
                     for c, p in zip(cells, ports)]
        if not self.wide and max(map(len, cells)) > _SHORT_LEN + 1:
            cells = [c if len(c) <= _SHORT_LEN + 1 else self(a, p, family, proto)
                     for c, a, p in zip(cells, addresses, ports)]
        return cells

    def __call__(self, address: str, port: int, family: int, proto: str) -> str:
        host, service = self.host(address, family), self.port(port, proto)
        if not self.wide and len(host) + len(service) > _SHORT_LEN:
            keep = min(len(service), _SHORT_LEN - 4)
            return host[: _SHORT_LEN - keep] + ":" + service[:keep]
        return f"{host}:{service}"


class Tail:
    """What ``finish_this_one`` adds after the State column: User and Inode (-e), PID/Program
    name (-p), Timer (-o)."""

    def __init__(self, opts: NetToolsOptions, programs: Programs | None, timers: Timers | None):
        self.extend = opts.extend
        self.numeric_users = opts.numeric_users
        self.programs = programs
        self.timers = timers
        self.users: dict[int, str] = {}

    def user(self, uid: int) -> str:
        name = self.users.get(uid)
        if name is None:
            name = str(uid)
            if not self.numeric_users:
                import pwd

                try:
                    name = pwd.getpwuid(uid).pw_name
                except KeyError:
                    pass
            self.users[uid] = name
        return name

    def column(self, uids: Sequence[int | None], inodes: Sequence[int], cookies: Sequence[Any]
               ) -> list[str] | None:
        """The tails of a column of sockets; None when no option adds one. ``cookies``: ints, or
        None from /proc (in no ``timers``)."""
        if not (self.extend or self.programs is not None or self.timers is not None):
            return None
        timers = self.timers
        found = repeat(None) if timers is None else map(timers.get, cookies)
        if self.programs is not None and not self.extend and timers is None:
            return [f" {name:<20}" for name in self.programs.column(inodes)]
        return list(map(self, uids, inodes, found))

    def __call__(self, uid: int | None, inode: int, timer: tuple[int, float, int, int] | None
                 ) -> str:
        text = ""
        if self.extend:
            text += f" {self.user(uid or 0):<10} {inode:<10}"
        if self.programs is not None:
            text += f" {self.programs(inode):<20}"
        if self.timers is not None:
            kind, seconds, retransmits, probes = timer or (0, 0.0, 0, 0)
            name = _TIMER_NAMES.get(kind, f"unkn-{kind}")
            text += f" {name} ({seconds:.2f}/{retransmits}/{probes})"
        return text


def listed(opts: NetToolsOptions, server: bool) -> bool:
    """-a: every socket; -l: servers only; neither: the others (netstat.c tcp_do_one)."""
    return opts.all or server == bool(opts.listening)


class _Names(dict[int, str]):
    """State code -> State cell; a code net-tools has no word for prints empty."""

    def __missing__(self, state: int) -> str:
        return ""


# tcp_state[] by kernel state; NEW_SYN_RECV (12), a request socket, /proc/net/tcp lists as SYN_RECV
_TCP_CELLS = _Names({state: TCP_STATES[_TCP_STATE_OF.get(state, state)] for state in range(13)})
# udp_do_one: ESTABLISHED, "" (TCP_CLOSE: unconnected), anything else UNKNOWN
_UDP_CELLS = _Names({state: "UNKNOWN" for state in range(256)})
_UDP_CELLS.update({1: "ESTABLISHED", 7: ""})
_TCP_HEAD = "{:<4}  {:>6} {:>6} {:<23} {:<23} {:<11}".format  # tcp_do_one
_UDP_HEAD = "{:<5} {:>6} {:>6} {:<23} {:<23} {:<11}".format  # udp_do_one


def inet_rows(batch: SocketBatch, opts: NetToolsOptions, endpoint: Endpoints, tail: Tail) -> str:
    """The lines of one batch (tcp or udp, one family), a column at a time (a listing may hold
    200,000 sockets). A TCP socket is a server when its peer's port is 0, a UDP socket when its
    peer's address is the wildcard (netstat.c decides by these, not by the state)."""
    from itertools import compress, repeat

    proto, family = batch.proto, batch.family
    tcp = proto == "tcp"
    columns: list[Sequence[Any]] = [batch.state, batch.local_address, batch.local_port, batch.remote_address,
               batch.remote_port, batch.recv_q, batch.send_q, batch.uid, batch.inode, batch.cookie]
    if not opts.all:
        wildcard = "::" if family == 6 else "0.0.0.0"
        servers = (map((0).__eq__, batch.remote_port) if tcp
                   else map(wildcard.__eq__, batch.remote_address))
        keep = list(map(bool(opts.listening).__eq__, servers))
        if not all(keep):
            columns = [list(compress(column, keep)) for column in columns]
    state, laddr, lport, raddr, rport, recv_q, send_q, uid, inode, cookie = columns
    if not state:
        return ""
    if TCP_LISTEN in state:
        # inet_diag gives a listener's backlog limit as its send queue; /proc/net/tcp, 0.
        send_q = [0 if s == TCP_LISTEN else q for s, q in zip(state, send_q)]
    label = proto + ("6" if family == 6 else "")
    heads = map(_TCP_HEAD if tcp else _UDP_HEAD, repeat(label), recv_q, send_q,
                endpoint.column(laddr, lport, family, proto),
                endpoint.column(raddr, rport, family, proto),
                map((_TCP_CELLS if tcp else _UDP_CELLS).__getitem__, state))
    tails = tail.column(uid, inode, cookie)
    if tails is None:
        return "\n".join(heads) + "\n"
    return "\n".join(map(str.__add__, heads, tails)) + "\n"


def raw_rows(sockets: list[RawSocket], opts: NetToolsOptions, endpoint: Endpoints, tail: Tail
             ) -> Iterable[str]:
    """``raw_do_one``: the protocol in the port's place, the state as a number."""
    for sock in sockets:
        wildcard = "::" if sock.family == 6 else "0.0.0.0"
        if not listed(opts, sock.remote_address == wildcard):
            continue
        label = "raw6" if sock.family == 6 else "raw"
        local = endpoint(sock.local_address, sock.protocol, sock.family, "raw")
        remote = endpoint(sock.remote_address, 0, sock.family, "raw")
        yield (f"{label:<4}  {sock.rqueue:>6} {sock.wqueue:>6} {local:<23} {remote:<23} "
               f"{sock.state:<11}" + tail(sock.uid, sock.inode, None) + "\n")


# include/linux/net.h socket_state and the flags /proc/net/unix prints
_SO_ACCEPTCON, _SO_WAITDATA, _SO_NOSPACE = 1 << 16, 1 << 17, 1 << 18
_SS_UNCONNECTED = 1
_UNIX_TYPES = {1: "STREAM", 2: "DGRAM", 3: "RAW", 4: "RDM", 5: "SEQPACKET"}
_UNIX_STATES = {0: "FREE", 2: "CONNECTING", 3: "CONNECTED", 4: "DISCONNECTING"}


def unix_header(opts: NetToolsOptions) -> str:
    line = "Proto RefCnt Flags       Type       State         I-Node  "
    if opts.programs:
        line += " " + f"{'PID/Program name':<20}"
    return f"Active UNIX domain sockets {servers_word(opts)}\n{line} Path\n"


def unix_server(row: UnixLine) -> bool:
    return row.state == _SS_UNCONNECTED and bool(row.flags & _SO_ACCEPTCON)


def unix_rows(lines: list[UnixLine], opts: NetToolsOptions, programs: Callable[[int], str] | None
              ) -> Iterable[str]:
    """``unix_do_one``: a server is an unconnected socket with SO_ACCEPTCON."""
    from pynetstat.textsafe import safe

    for row in lines:
        if not listed(opts, unix_server(row)):
            continue
        flags = "[ " + "".join(word for bit, word in ((_SO_ACCEPTCON, "ACC "), (_SO_WAITDATA, "W "),
                                                      (_SO_NOSPACE, "N ")) if row.flags & bit) + "]"
        if row.state == _SS_UNCONNECTED:
            state = "LISTENING" if row.flags & _SO_ACCEPTCON else ""
        else:
            state = _UNIX_STATES.get(row.state, "UNKNOWN")
        kind = _UNIX_TYPES.get(row.type, "UNKNOWN")
        proto = "unix" if row.proto == 0 else "??"
        text = f"{proto:<5} {row.refcnt:<6} {flags:<11} {kind:<10} {state:<13} {row.inode:<8}"
        if programs is not None:
            text += f" {programs(row.inode):<20}"
        yield text + " " + safe(row.path) + "\n"


GROUPS_HEADER = ("IPv6/IPv4 Group Memberships\n"
                 "Interface       RefCnt Group\n"
                 "--------------- ------ ---------------------\n")


def group_rows(rows: list[Group], endpoint: Endpoints) -> Iterable[str]:
    """``igmp_do_one``: ``"%-15s %-6d %s"``."""
    for device, users, group in rows:
        yield f"{device:<15} {users:<6} {endpoint.host(group, 6 if ':' in group else 4)}\n"
