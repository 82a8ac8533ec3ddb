"""The socket tables as net-tools 2.10 prints them (netstat.c: ``tcp_do_one``, ``udp_do_one``,
``raw_do_one``, ``finish_this_one``, ``unix_do_one``, ``igmp_do_one``).

Every width below is net-tools' printf format, cited beside it; the rows are compared with real
net-tools output by tests/test_nettools_live.py.
"""

from __future__ import annotations

from pynetstat.model.sockets import TCP_LISTEN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pynetstat.model.sockets import SocketBatch
    from pynetstat.nettools.flags import NetToolsOptions

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

    def __init__(self, opts: NetToolsOptions, names):
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

    def __call__(self, address: str, port: int, family: int, proto: str) -> str:
        host, service = self.host(address, family), self.port(port, proto)
        if not self.wide and len(host) + len(service) > _SHORT_LEN:
            keep = min(len(service), _SHORT_LEN - 4)
            return host[: _SHORT_LEN - keep] + ":" + service[:keep]
        return f"{host}:{service}"


class Tail:
    """What ``finish_this_one`` adds after the State column: User and Inode (-e), PID/Program
    name (-p), Timer (-o)."""

    def __init__(self, opts: NetToolsOptions, programs: Callable[[int], str] | None,
                 timers: dict | None):
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

    def __call__(self, uid: int | None, inode: int, timer: tuple | None) -> str:
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


def inet_rows(batch: SocketBatch, opts: NetToolsOptions, endpoint: Endpoints, tail: Tail) -> Iterable[str]:
    """The lines of one batch (tcp or udp, one family). A TCP socket is a server when its peer's
    port is 0, a UDP socket when its peer's address is the wildcard (netstat.c, not the state).
    """
    proto = batch.proto
    label = proto + ("6" if batch.family == 6 else "")
    tcp = proto == "tcp"
    wildcard = "::" if batch.family == 6 else "0.0.0.0"
    timers = tail.timers
    for i, state in enumerate(batch.state):
        server = batch.remote_port[i] == 0 if tcp else batch.remote_address[i] == wildcard
        if not listed(opts, server):
            continue
        local = endpoint(batch.local_address[i], batch.local_port[i], batch.family, proto)
        remote = endpoint(batch.remote_address[i], batch.remote_port[i], batch.family, proto)
        # inet_diag gives a listener's backlog limit as its send queue; /proc/net/tcp, 0.
        send_q = 0 if state == TCP_LISTEN else batch.send_q[i]
        if tcp:
            state_text = TCP_STATES[_TCP_STATE_OF.get(state, state)] if state < 13 else ""
            head = (f"{label:<4}  {batch.recv_q[i]:>6} {send_q:>6} {local:<23} {remote:<23} "
                    f"{state_text:<11}")
        else:
            state_text = "ESTABLISHED" if state == 1 else "" if state == 7 else "UNKNOWN"
            head = (f"{label:<5} {batch.recv_q[i]:>6} {send_q:>6} {local:<23} {remote:<23} "
                    f"{state_text:<11}")
        timer = timers.get(batch.cookie[i]) if timers is not None else None
        yield head + tail(batch.uid[i], batch.inode[i], timer) + "\n"


def raw_rows(sockets: list, opts: NetToolsOptions, endpoint: Endpoints, tail: Tail) -> Iterable[str]:
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


def unix_server(row) -> bool:
    return row.state == _SS_UNCONNECTED and bool(row.flags & _SO_ACCEPTCON)


def unix_rows(lines: list, opts: NetToolsOptions, programs: Callable[[int], str] | None) -> Iterable[str]:
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


def group_rows(rows: list[tuple[str, int, str]], endpoint: Endpoints) -> Iterable[str]:
    """``igmp_do_one``: ``"%-15s %-6d %s"``."""
    for device, users, group in rows:
        yield f"{device:<15} {users:<6} {endpoint.host(group, 6 if ':' in group else 4)}\n"
