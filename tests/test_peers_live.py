"""The other end of a TCP or UDP connection on this host (issue 12; model/peers.py), live.

Every scene's ends are held by processes of their own, each named (its comm) for its role, so a
row naming the wrong process or no process fails: a client and a server over 127.0.0.1, over ::1,
an IPv4 client of a dual-stack IPv6 server (its accepted socket IPv4-mapped, a tcp6 row facing a
tcp row), a connection whose accepted socket a third process holds (forked after accept), a
connected UDP pair, and a connection between two test-made namespaces joined by veth, whose two
ends have mirrored 4-tuples but are not one host's conversation. Oracle: ``ss -tuanpeH``, which
prints each socket's inode and holders: the peer inode and PID we name are those ss gives the
socket at the other end.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import subprocess

import pytest

from helpers import run_inprocess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the veth scene needs root")

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME = 15  # include/uapi/linux/prctl.h


class Actor:
    """A child process named ``name`` (its comm) that runs ``body(report)`` (``report(*values)``
    sends a line to the test) and then holds its sockets until ``close()``."""

    def __init__(self, name: str, body, netns: str | None = None):
        reports, to_test = os.pipe()
        from_test, hold = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            try:
                os.close(reports)
                os.close(hold)
                if netns is not None:
                    from delay_line import enter

                    enter(netns)
                _libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
                out = os.fdopen(to_test, "w")

                def report(*values):
                    out.write(json.dumps(values) + "\n")
                    out.flush()

                body(report)
                os.read(from_test, 1)  # until the test closes its end
            finally:
                os._exit(0)
        os.close(to_test)
        os.close(from_test)
        self.pid, self.name = pid, name
        self.reports, self.hold = os.fdopen(reports), hold

    def read(self) -> list:
        line = self.reports.readline()
        assert line, f"{self.name} ({self.pid}) ended before it reported"
        return json.loads(line)

    def close(self) -> None:
        os.close(self.hold)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


@pytest.fixture
def actors():
    made: list[Actor] = []

    def start(name, body, netns=None) -> Actor:
        actor = Actor(name, body, netns)
        made.append(actor)
        return actor

    yield start
    for actor in made:
        actor.close()


def _server(family: int, host: str, v6only: bool = True, proto: int = 0):
    """The body of a server: listen, report the port, accept one, report the client's end."""
    def body(report):
        srv = socket.socket(family, socket.SOCK_STREAM, proto)
        if family == socket.AF_INET6:
            srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        srv.bind((host, 0))
        srv.listen()
        report(srv.getsockname()[1])
        conn, _ = srv.accept()
        report(*conn.getpeername()[:2])
        body.held = (srv, conn)
    return body


def _client(family: int, host: str, port: int, proto: int = 0):
    def body(report):
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.connect((host, port))
        report(*sock.getsockname()[:2])
        body.held = sock
    return body


def _rows(argv: list[str]) -> list[dict]:
    result = run_inprocess(argv)
    assert result.status == 0, result
    return result.json()["connections"]


def _row(rows: list[dict], local: tuple, remote: tuple) -> dict:
    found = [r for r in rows if (r["local_address"], r["local_port"]) == local
             and (r["remote_address"], r["remote_port"]) == remote]
    assert len(found) == 1, (local, remote, found)
    return found[0]


def _peer(row: dict) -> dict:
    return {k: row[k] for k in ("pid", "peer_inode", "peer_pid", "peer_owners")}


def _ss(port: int) -> dict[tuple, tuple[int, int]]:
    """``ss -tuanpeH``'s sockets with ``port`` at either end: ``(local, remote) -> (inode, the
    lowest holding PID)``, each end as ss prints it (``127.0.0.1:5432``, ``[::1]:5432``)."""
    out = subprocess.run(["ss", "-tuanpeH", f"( sport = :{port} or dport = :{port} )"],
                         check=True, capture_output=True, text=True).stdout
    ends = {}
    for line in out.splitlines():
        cells = line.split()
        inode = re.search(r"\bino:(\d+)", line)
        pids = [int(p) for p in re.findall(r"pid=(\d+)", line)]
        if inode and pids:
            ends[(cells[4], cells[5])] = (int(inode.group(1)), min(pids))
    return ends


def _ss_end(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _b_lines(out: str, local: str, remote: str) -> list[str]:
    """The lines -b prints under the row with these ends, up to the next row."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"  (TCP|UDP) ", line) and line.split()[1:3] == [local, remote]:
            under = []
            for below in lines[i + 1:]:
                if re.match(r"  (TCP|UDP) ", below) or not below.strip():
                    break
                under.append(below)
            return under
    raise AssertionError(f"no row {local} {remote} in:\n{out}")


SCENES = {
    "ipv4": (socket.AF_INET, "127.0.0.1", socket.AF_INET, "127.0.0.1", "127.0.0.1"),
    "ipv6": (socket.AF_INET6, "::1", socket.AF_INET6, "::1", "::1"),
    # an IPv4 client of a dual-stack server: its accepted socket is tcp6 with mapped ends
    "mapped": (socket.AF_INET6, "::", socket.AF_INET, "127.0.0.1", "::ffff:127.0.0.1"),
}


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_each_end_of_a_loopback_connection_names_the_other(scene, actors):
    server_family, server_host, client_family, client_host, server_side = SCENES[scene]
    server = actors("p12srv", _server(server_family, server_host, v6only=scene != "mapped"))
    (port,) = server.read()
    client = actors("p12cli", _client(client_family, client_host, port))
    caddr, cport = client.read()
    assert server.read() == [server_side, cport]

    rows = _rows(["-ano", "--json"])
    crow = _row(rows, (caddr, cport), (client_host, port))
    srow = _row(rows, (server_side, port), (server_side, cport))
    assert (crow["proto"], srow["proto"]) == ({"ipv4": ("tcp", "tcp"), "ipv6": ("tcp6", "tcp6"),
                                               "mapped": ("tcp", "tcp6")}[scene])
    assert _peer(crow) == {"pid": client.pid, "peer_inode": srow["inode"], "peer_pid": server.pid,
                           "peer_owners": [{"pid": server.pid, "name": "p12srv"}]}
    assert _peer(srow) == {"pid": server.pid, "peer_inode": crow["inode"], "peer_pid": client.pid,
                           "peer_owners": [{"pid": client.pid, "name": "p12cli"}]}
    # the oracle: ss's inode and holder of each row's other end
    ss = _ss(port)
    assert ss[(_ss_end(server_side, port), _ss_end(server_side, cport))] == (
        crow["peer_inode"], crow["peer_pid"])
    assert ss[(_ss_end(caddr, cport), _ss_end(client_host, port))] == (
        srow["peer_inode"], srow["peer_pid"])

    # -b: the line right under each row names the other end, above the owner lines
    out = run_inprocess(["-anb"]).out
    fmt = "{}:{}" if client_family == socket.AF_INET else "[{}]:{}"
    sfmt = "[{}]:{}" if server_family == socket.AF_INET6 else "{}:{}"
    under = _b_lines(out, fmt.format(caddr, cport), fmt.format(client_host, port))
    assert (under[0], under[-2]) == (f"  -> p12srv {server.pid}", f"  p12cli ({client.pid})")
    assert under[-1].startswith(" [")  # the executable stays last: jc reads it as the program
    under = _b_lines(out, sfmt.format(server_side, port), sfmt.format(server_side, cport))
    assert (under[0], under[-2]) == (f"  <- p12cli {client.pid}", f"  p12srv ({server.pid})")


def test_the_process_holding_the_accepted_socket_is_the_other_end(actors):
    """The server forks a handler after accept and closes its own copy: the client's row names
    the handler, not the process that listens."""
    def server(report):
        srv = socket.create_server(("127.0.0.1", 0))
        report(srv.getsockname()[1])
        conn, peer = srv.accept()
        child = os.fork()
        if child == 0:
            srv.close()
            _libc.prctl(PR_SET_NAME, b"p12hand", 0, 0, 0)
            signal.pause()
            os._exit(0)
        conn.close()
        report(child, peer[1])
        server.held = srv

    listener = actors("p12srv", server)
    (port,) = listener.read()
    client = actors("p12cli", _client(socket.AF_INET, "127.0.0.1", port))
    _addr, cport = client.read()
    handler, seen = listener.read()
    try:
        assert seen == cport
        rows = _rows(["-ano", "--json"])
        crow = _row(rows, ("127.0.0.1", cport), ("127.0.0.1", port))
        srow = _row(rows, ("127.0.0.1", port), ("127.0.0.1", cport))
        assert srow["pid"] == handler
        assert _peer(crow) == {"pid": client.pid, "peer_inode": srow["inode"], "peer_pid": handler,
                               "peer_owners": [{"pid": handler, "name": "p12hand"}]}
        assert _peer(srow)["peer_pid"] == client.pid
        listen = _row(rows, ("127.0.0.1", port), ("0.0.0.0", 0))
        assert (listen["pid"], listen["peer_inode"], listen["peer_owners"]) == (listener.pid, None, None)
        ss = _ss(port)
        assert ss[(f"127.0.0.1:{port}", f"127.0.0.1:{cport}")] == (srow["inode"], handler)
    finally:
        os.kill(handler, signal.SIGKILL)


def test_a_connected_udp_pair_names_each_other(actors):
    def end(name_port):
        def body(report):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            report(sock.getsockname()[1])
            other = json.loads(os.read(body.ask, 64))
            sock.connect(("127.0.0.1", other))
            report("connected")
            body.held = sock
        return body

    # each end learns the other's port through a pipe of its own
    ports = {}
    pipes = {name: os.pipe() for name in ("p12udpa", "p12udpb")}
    made = {}
    for name in pipes:
        body = end(name)
        body.ask = pipes[name][0]
        made[name] = actors(name, body)
        ports[name] = made[name].read()[0]
    os.write(pipes["p12udpa"][1], json.dumps(ports["p12udpb"]).encode())
    os.write(pipes["p12udpb"][1], json.dumps(ports["p12udpa"]).encode())
    assert made["p12udpa"].read() == made["p12udpb"].read() == ["connected"]
    for r, w in pipes.values():
        os.close(r)
        os.close(w)
    a, b = made["p12udpa"], made["p12udpb"]
    rows = _rows(["-ano", "--json"])
    arow = _row(rows, ("127.0.0.1", ports["p12udpa"]), ("127.0.0.1", ports["p12udpb"]))
    brow = _row(rows, ("127.0.0.1", ports["p12udpb"]), ("127.0.0.1", ports["p12udpa"]))
    assert _peer(arow) == {"pid": a.pid, "peer_inode": brow["inode"], "peer_pid": b.pid,
                           "peer_owners": [{"pid": b.pid, "name": "p12udpb"}]}
    assert _peer(brow) == {"pid": b.pid, "peer_inode": arow["inode"], "peer_pid": a.pid,
                           "peer_owners": [{"pid": a.pid, "name": "p12udpa"}]}
    ss = _ss(ports["p12udpa"])
    assert ss[(f"127.0.0.1:{ports['p12udpb']}", f"127.0.0.1:{ports['p12udpa']}")] == (
        arow["peer_inode"], b.pid)
    out = run_inprocess(["-anb", "-p", "udp"]).out
    under = _b_lines(out, f"127.0.0.1:{ports['p12udpa']}", f"127.0.0.1:{ports['p12udpb']}")
    assert under[0] == f"  <-> p12udpb {b.pid}"  # UDP: neither end accepted the other


def test_a_filter_that_leaves_the_other_end_out_still_names_it(actors):
    """--pid of the client and --lport of its port list the client's row alone: the other end
    is asked of the kernel by its ends, and its holder is found though --pid walks the fd table
    of the client alone."""
    server = actors("p12srv", _server(socket.AF_INET, "127.0.0.1"))
    (port,) = server.read()
    client = actors("p12cli", _client(socket.AF_INET, "127.0.0.1", port))
    _addr, cport = client.read()
    server.read()
    rows = _rows(["-no", "--json", "--pid", str(client.pid)])
    assert [(r["local_port"], r["remote_port"]) for r in rows] == [(cport, port)]
    assert (rows[0]["peer_pid"], rows[0]["peer_owners"]) == (
        server.pid, [{"pid": server.pid, "name": "p12srv"}])
    rows = _rows(["-no", "--json", "--lport", str(cport)])
    assert [(r["local_port"], r["remote_port"], r["peer_pid"]) for r in rows] == [
        (cport, port, server.pid)]


def test_a_connection_between_two_namespaces_is_not_joined(actors):
    """A veth pair between two test-made namespaces: the client's row in one and the accepted
    row in the other have mirrored ends, but neither is on the other's host."""
    from record_stats import veth_pair

    a, b = veth_pair("p12")
    try:
        server = actors("p12srv", _server(socket.AF_INET, "10.77.0.2"), netns=b.name)
        (port,) = server.read()
        client = actors("p12cli", _client(socket.AF_INET, "10.77.0.2", port), netns=a.name)
        _addr, cport = client.read()
        assert server.read() == ["10.77.0.1", cport]
        rows = _rows(["--all-netns", "-ano", "--json"])
        crow = _row(rows, ("10.77.0.1", cport), ("10.77.0.2", port))
        srow = _row(rows, ("10.77.0.2", port), ("10.77.0.1", cport))
        assert (crow["netns"]["name"], srow["netns"]["name"]) == (a.name, b.name)
        assert (crow["pid"], srow["pid"]) == (client.pid, server.pid)
        assert _peer(crow) == {"pid": client.pid, "peer_inode": None, "peer_pid": None,
                               "peer_owners": None}
        assert _peer(srow) == {"pid": server.pid, "peer_inode": None, "peer_pid": None,
                               "peer_owners": None}
        rows = _rows(["--netns", a.name, "-ano", "--json"])
        assert _peer(_row(rows, ("10.77.0.1", cport), ("10.77.0.2", port)))["peer_inode"] is None
    finally:
        a.delete()
        b.delete()


def test_a_plain_listing_and_o_alone_do_not_join(actors):
    """The join costs a pass over the whole dump: -ano's table and a JSON without owners carry
    no peer (the fields stay null), and -ano's table keeps the spec's columns."""
    server = actors("p12srv", _server(socket.AF_INET, "127.0.0.1"))
    (port,) = server.read()
    client = actors("p12cli", _client(socket.AF_INET, "127.0.0.1", port))
    _addr, cport = client.read()
    server.read()
    crow = _row(_rows(["-an", "--json"]), ("127.0.0.1", cport), ("127.0.0.1", port))
    assert _peer(crow) == {"pid": None, "peer_inode": None, "peer_pid": None, "peer_owners": None}
    out = run_inprocess(["-ano"]).out
    line = next(x for x in out.splitlines() if x.split()[1:2] == [f"127.0.0.1:{cport}"])
    assert line.split() == ["TCP", f"127.0.0.1:{cport}", f"127.0.0.1:{port}", "ESTABLISHED",
                            str(client.pid)]
    assert "p12srv" not in out


def _udp_server(family: int, host: str, reuse: bool = False, port: int = 0):
    """A UDP server's receiving socket: bound, never connected."""
    def body(report):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        report(sock.getsockname()[1])
        body.held = sock
    return body


def _udp_client(port: int):
    def body(report):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", port))
        report(*sock.getsockname()[:2])
        body.held = sock
    return body


@pytest.mark.parametrize("bound", ["127.0.0.1", "0.0.0.0", "::"])
def test_a_udp_client_names_the_server_it_sends_to(bound, actors):
    """A connected UDP client of a server that receives on an unconnected socket (DNS, syslog):
    the client's row names the server (``->``: it sent to the server's port), whether the server
    is bound to the address, to the wildcard, or dual-stack to ``::``; the server's row names no
    one (its clients are many). Oracle: ss's inode and holder of the server's socket."""
    family = socket.AF_INET6 if bound == "::" else socket.AF_INET
    server = actors("p12dns", _udp_server(family, bound))
    (port,) = server.read()
    client = actors("p12res", _udp_client(port))
    caddr, cport = client.read()
    rows = _rows(["-ano", "--json"])
    crow = _row(rows, (caddr, cport), ("127.0.0.1", port))
    srow = [r for r in rows if r["local_port"] == port and r["remote_port"] == 0]
    assert len(srow) == 1 and srow[0]["pid"] == server.pid
    assert _peer(crow) == {"pid": client.pid, "peer_inode": srow[0]["inode"],
                           "peer_pid": server.pid,
                           "peer_owners": [{"pid": server.pid, "name": "p12dns"}]}
    assert (srow[0]["peer_inode"], srow[0]["peer_pid"]) == (None, None)
    out = subprocess.run(["ss", "-uanpeH", f"sport = :{port}"], check=True, capture_output=True,
                         text=True).stdout
    inode = int(re.search(r"\bino:(\d+)", out).group(1))
    assert (inode, int(re.search(r"pid=(\d+)", out).group(1))) == (crow["peer_inode"], server.pid)
    under = _b_lines(run_inprocess(["-anb"]).out, f"{caddr}:{cport}", f"127.0.0.1:{port}")
    assert under[0] == f"  -> p12dns {server.pid}"


def test_a_udp_client_of_two_servers_on_one_port_names_neither(actors):
    """Two unconnected sockets share the server's end (SO_REUSEPORT): the kernel picks one per
    datagram, so the client's row names neither."""
    first = actors("p12dnsa", _udp_server(socket.AF_INET, "127.0.0.1", reuse=True))
    (port,) = first.read()
    second = actors("p12dnsb", _udp_server(socket.AF_INET, "127.0.0.1", reuse=True, port=port))
    assert second.read() == [port]
    client = actors("p12res", _udp_client(port))
    caddr, cport = client.read()
    crow = _row(_rows(["-ano", "--json"]), (caddr, cport), ("127.0.0.1", port))
    assert (crow["peer_inode"], crow["peer_pid"], crow["peer_owners"]) == (None, None, None)


@pytest.mark.parametrize("bound", ["127.0.0.1", "0.0.0.0", "::"])
def test_a_filter_that_leaves_the_udp_server_out_still_names_it(bound, actors):
    """--pid of the client and --lport of its port list the client's row alone: the unconnected
    server it sends to is asked of the kernel by its end (that address, or the wildcard of
    either family, with any foreign end) and named, as in the whole listing."""
    family = socket.AF_INET6 if bound == "::" else socket.AF_INET
    server = actors("p12dns", _udp_server(family, bound))
    (port,) = server.read()
    client = actors("p12res", _udp_client(port))
    caddr, cport = client.read()
    whole = _row(_rows(["-ano", "--json"]), (caddr, cport), ("127.0.0.1", port))
    assert whole["peer_pid"] == server.pid
    for narrow in (["--pid", str(client.pid)], ["--lport", str(cport)]):
        rows = _rows(["-ano", "--json", "-p", "udp", *narrow])
        assert [(r["local_port"], r["remote_port"]) for r in rows] == [(cport, port)]
        assert _peer(rows[0]) == _peer(whole) == {
            "pid": client.pid, "peer_inode": whole["peer_inode"], "peer_pid": server.pid,
            "peer_owners": [{"pid": server.pid, "name": "p12dns"}]}


IPPROTO_MPTCP = 262


def _mptcp_or_skip() -> None:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP).close()
    except OSError as e:
        pytest.skip(f"no MPTCP sockets on this kernel: {e.strerror}")


@pytest.mark.parametrize("client_proto, server_proto", [(IPPROTO_MPTCP, IPPROTO_MPTCP),
                                                        (IPPROTO_MPTCP, 0)])
def test_an_mptcp_connection_names_each_end(client_proto, server_proto, actors):
    """An MPTCP connection between two processes: each MPTCP row names the process at the other
    end, as a TCP row does; an MPTCP client whose server is plain TCP (the connection fell back)
    is joined to that TCP socket (one port space). (A TCP client of an MPTCP server: the server's
    end is listed as TCP alone.) Oracle: ss's inode and holder of each end."""
    _mptcp_or_skip()
    server = actors("p12msrv", _server(socket.AF_INET, "127.0.0.1", proto=server_proto))
    (port,) = server.read()
    client = actors("p12mcli", _client(socket.AF_INET, "127.0.0.1", port, proto=client_proto))
    _addr, cport = client.read()
    assert server.read() == ["127.0.0.1", cport]
    rows = _rows(["-ano", "-p", "tcp,mptcp", "--json"])
    ends = {"client": (("127.0.0.1", cport), ("127.0.0.1", port)),
            "server": (("127.0.0.1", port), ("127.0.0.1", cport))}
    proto = {"client": "mptcp" if client_proto else "tcp",
             "server": "mptcp" if server_proto else "tcp"}
    actor = {"client": client, "server": server}
    name = {"client": "p12mcli", "server": "p12msrv"}
    found = {}
    for side, (local, remote) in ends.items():
        mine = [r for r in rows if r["proto"] == proto[side]]
        found[side] = _row(mine, local, remote)
    ss = _ss(port)
    for side, other in (("client", "server"), ("server", "client")):
        row = found[side]
        assert _peer(row) == {"pid": actor[side].pid, "peer_inode": found[other]["inode"],
                              "peer_pid": actor[other].pid,
                              "peer_owners": [{"pid": actor[other].pid, "name": name[other]}]}
        local, remote = ends[other]
        assert ss[(f"{local[0]}:{local[1]}", f"{remote[0]}:{remote[1]}")] == (
            row["peer_inode"], actor[other].pid)
