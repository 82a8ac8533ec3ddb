"""A live scene for the filter tests: a private network namespace, entered only to make sockets
and netlink sockets (``setns`` on this thread, then back), with listeners and connections on
chosen addresses, ports, states, devices and uids; and the plain Python predicate the tests
compare the kernel's and ``pynetstat.select``'s filtering with.

The predicate is written from the documented rules (``pynetstat/select.py``) with ``ipaddress``,
independently of the code under test.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import os
import socket
import struct
import subprocess

CLONE_NEWNET = 0x40000000  # <linux/sched.h>
_libc = ctypes.CDLL(None, use_errno=True)


class Netns:
    """A network namespace of our own; ``inside()`` moves this thread into it for a while."""

    def __init__(self) -> None:
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._setns(self.home)

    @staticmethod
    def _setns(fd: int) -> None:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")

    @contextlib.contextmanager
    def inside(self):
        self._setns(self.fd)
        try:
            yield
        finally:
            self._setns(self.home)

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.home)


def _lo_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.Struct("16sH14x")
        _, flags = ifreq.unpack(fcntl.ioctl(sock, 0x8913, ifreq.pack(b"lo", 0)))  # SIOCGIFFLAGS
        fcntl.ioctl(sock, 0x8914, ifreq.pack(b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


OTHER_UID = 1000


class Scene:
    """The sockets; build inside the namespace. ``links`` is what ``Filter.bind`` wants."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.accepted: list[socket.socket] = []
        _lo_up()
        for cmd in (["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                    ["link", "set", "v0", "up"], ["link", "set", "v1", "up"],
                    ["addr", "add", "192.0.2.1/24", "dev", "v0"],
                    ["-6", "addr", "add", "fe80::1/64", "dev", "v0", "nodad"],
                    # a neighbour that never answers: a SYN to it stays SYN_SENT (an unresolved
                    # one would fail the connection after 3 s)
                    ["neigh", "add", "192.0.2.2", "lladdr", "02:00:00:00:00:02", "dev", "v0",
                     "nud", "permanent"]):
            subprocess.run(["ip", *cmd], check=True)
        v0, v1 = socket.if_nametoindex("v0"), socket.if_nametoindex("v1")
        self.links = {"lo": (1, ["127.0.0.1", "::1"]), "v0": (v0, ["192.0.2.1", "fe80::1"]),
                      "v1": (v1, [])}
        tcp4, tcp6 = (socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET6, socket.SOCK_STREAM)
        self.listen(tcp4, ("127.0.0.1", 8080))
        self.listen(tcp4, ("127.0.0.2", 8081))
        self.listen(tcp4, ("0.0.0.0", 443))
        self.listen(tcp6, ("::1", 8443), v6only=True)
        self.listen(tcp6, ("::", 9000))
        self.listen(tcp6, ("fe80::1", 9001, 0, v0))
        self.listen(tcp4, ("127.0.0.3", 7000), device=b"lo")
        self.listen(tcp4, ("127.0.0.4", 7001), uid=OTHER_UID)
        self.connect(tcp4, ("127.0.0.5", 40001), ("127.0.0.1", 8080))
        self.connect(tcp4, ("127.0.0.6", 40002), ("127.0.0.2", 8081)).close()  # FIN_WAIT2 + CLOSE_WAIT
        client = self.connect(tcp4, ("127.0.0.7", 40003), ("127.0.0.1", 443))
        client.close()
        self.accepted[-1].close()  # the client's end lingers in TIME_WAIT
        self.connect(tcp6, ("::1", 40004), ("::1", 8443))
        self.connect(tcp6, ("::ffff:127.0.0.8", 40005), ("::ffff:127.0.0.1", 9000))
        self.connect(tcp6, ("fe80::1", 40006, 0, v0), ("fe80::1", 9001, 0, v0))
        syn = self.open(tcp4, ("192.0.2.1", 40007))
        syn.setblocking(False)
        syn.connect_ex(("192.0.2.2", 80))  # nobody answers ARP: SYN_SENT
        udp4, udp6 = (socket.AF_INET, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_DGRAM)
        self.open(udp4, ("127.0.0.1", 5353))
        self.open(udp4, ("127.0.0.2", 5354)).connect(("127.0.0.1", 5353))
        self.open(udp6, ("::1", 5355))
        self.open(udp6, ("::", 5356)).connect(("::ffff:127.0.0.1", 5353))
        self.open(udp4, ("127.0.0.9", 5357), uid=OTHER_UID)

    def open(self, kind, address, *, uid: int = 0, device: bytes | None = None,
             v6only: bool = False) -> socket.socket:
        if uid:
            _libc.setfsuid(uid)  # the socket's owner is the creator's fsuid (sock_alloc)
        try:
            sock = socket.socket(*kind)
        finally:
            _libc.setfsuid(0)
        self.sockets.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if device:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device)
        if kind[0] == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        sock.bind(address)
        return sock

    def listen(self, kind, address, **how) -> socket.socket:
        sock = self.open(kind, address, **how)
        sock.listen(8)
        return sock

    def connect(self, kind, local, remote) -> socket.socket:
        sock = self.open(kind, local)
        sock.connect(remote)
        listener = next(s for s in self.sockets if s.type == socket.SOCK_STREAM
                        and s.family == kind[0] and _is_listener(s)
                        and s.getsockname()[1] == remote[1])
        conn, _ = listener.accept()
        self.accepted.append(conn)
        self.sockets.append(conn)
        return sock

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _is_listener(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


# --- the plain predicate ---------------------------------------------------------------------------
# A condition: (kind, end, items, negated); kind "state" | "port" | "addr" | "interface" | "user",
# end "local" | "remote" | "either" (None where it does not apply). Items are the option's texts.
STATE_BITS = {"established": {1}, "syn-sent": {2}, "syn-recv": {3, 12}, "fin-wait-1": {4},
              "fin-wait-2": {5}, "time-wait": {6}, "closed": {7}, "close-wait": {8},
              "last-ack": {9}, "listening": {10}, "closing": {11}}
STATE_BITS["connected"] = set(range(1, 13)) - {7, 10}
STATE_BITS["synchronized"] = STATE_BITS["connected"] - {2}
SERVICES = {"https": {443}, "http": {80}, "ssh": {22}}


def network(text: str):
    """The documented rule: a CIDR inside ::ffff:0:0/96 is the IPv4 CIDR it maps."""
    address, slash, prefix = text.partition("/")
    address, _, zone = address.partition("%")  # fe80::1%v0/128
    prefix, _, zone = prefix.partition("%") if "%" in prefix else (prefix, "", zone)
    net = ipaddress.ip_network(address + slash + prefix, strict=False)
    mapped = net.network_address.ipv4_mapped if net.version == 6 else None
    if mapped is not None and net.prefixlen >= 96:
        net = ipaddress.IPv4Network((mapped, net.prefixlen - 96))
    return net, zone or None


def in_network(address: str, net) -> bool:
    ip = ipaddress.ip_address(address)
    if net.version == 4 and ip.version == 6:
        ip = ip.ipv4_mapped  # an IPv4 net matches an IPv6 socket's IPv4-mapped address
        if ip is None:
            return False
    return ip.version == net.version and ip in net


def _port_in(port: int, items) -> bool:
    for item in items:
        if item in SERVICES:
            if port in SERVICES[item]:
                return True
            continue
        low, _, high = item.partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


def _ends(sock, end: str, test) -> bool:
    local = test(sock.local_port, sock.local_address)
    remote = test(sock.remote_port, sock.remote_address)
    return local if end == "local" else remote if end == "remote" else local or remote


def holds(sock, condition, links) -> bool:
    kind, end, items, negated = condition
    if kind == "state":
        hit = any(sock.state in STATE_BITS[item] for item in items)
    elif kind == "port":
        hit = _ends(sock, end, lambda port, _a: _port_in(port, items))
    elif kind == "addr":
        nets = [network(item) for item in items]
        hit = _ends(sock, end, lambda _p, address: any(
            in_network(address, net) and (zone is None or sock.scope == links[zone][0])
            for net, zone in nets))
    elif kind == "interface":
        hit = any(sock.scope == links[name][0] or any(
            in_network(sock.local_address, network(a)[0]) for a in links[name][1])
            for name in items)
    else:  # user
        hit = sock.uid in {0 if item == "root" else int(item) for item in items}
    return hit != negated


OPTION = {("state", None): "state", ("port", "either"): "port", ("port", "local"): "lport",
          ("port", "remote"): "rport", ("addr", "either"): "addr", ("addr", "local"): "local",
          ("addr", "remote"): "remote", ("interface", None): "interface", ("user", None): "user"}


def as_options(conditions) -> list[tuple[str, str]]:
    """The conditions as (option, value) pairs, the way a user would type them."""
    return [(OPTION[kind, end], ("!" if negated else "") + ",".join(items))
            for kind, end, items, negated in conditions]


def conditions(ports: list[str], nets: list[str], states: list[str] = (),
               users: list[str] = ()):
    """A hypothesis strategy of condition lists over these pools (interfaces: lo, v0, v1)."""
    from hypothesis import strategies as st

    def items(pool):
        return st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)

    ends = st.sampled_from(["either", "local", "remote"])
    kinds = [st.tuples(st.just("port"), ends, items(ports), st.booleans()),
             st.tuples(st.just("addr"), ends, items(nets), st.booleans()),
             st.tuples(st.just("interface"), st.none(), items(["lo", "v0", "v1"]), st.booleans())]
    kinds += [st.tuples(st.just(kind), st.none(), items(pool), st.booleans())
              for kind, pool in (("state", states), ("user", users)) if pool]
    return st.lists(st.one_of(kinds), max_size=4).map(
        lambda found: [(kind, end, list(values), negated) for kind, end, values, negated in found])
