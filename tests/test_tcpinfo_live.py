"""TCP internals from the running kernel (issue 13), on connections each test makes in a private
network namespace: counters of a known transfer, a receiver that stops reading, DSCP, the
congestion algorithm, the keepalive timer, a bound socket (state BOUND, Linux 6.8+) and
SOCK_DESTROY. Oracle: ``ss -tanoimO --tos`` (tests/fixtures/ss_oracle.py) run between two of our
dumps must agree with every field we decode."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import time

import pytest
from ss_oracle import NEWER_KEYS, compare, run_ss, ss_view

from pynetstat.errors import NetlinkError
from pynetstat.linux import diagext, diagreq
from pynetstat.linux.netlink import DumpStats, LiveNetlink
from test_interval_live import isolated

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="private network namespaces need root"),
    pytest.mark.skipif(shutil.which("ss") is None, reason="the oracle is iproute2's ss"),
]
ALL_EXT = diagext.GROUP_INFO | diagext.GROUP_MEMORY | diagext.GROUP_TOS
ALL_STATES = 0xFFFFFFFF
SENT, ANSWERED = 3_000_000, 700_000  # bytes client -> server, server -> client
EF = 0xB8  # DSCP 46 (Expedited Forwarding) << 2
TCP_KEEPIDLE_S = 600


def dump(nl, family: int, *, ext: int = ALL_EXT, states: int = ALL_STATES) -> dict:
    """``{(local, remote): (DiagMessage, Extensions)}`` of one TCP dump."""
    reply = nl.dump(diagreq.diag_request(family, "tcp", states=states, ext=ext))
    return {(m.local, m.remote): (m, diagext.decode_extensions(m.attrs))
            for m in diagreq.iter_messages(reply, DumpStats(), "test dump")}


def both(nl) -> dict:
    return {**dump(nl, 4), **dump(nl, 6)}


def check_against_ss(nl, *ss_prefix: str) -> int:
    """Our dump, ss, our dump again: every key ss prints for every socket agrees with one of
    our readings (or lies between them). Returns how many fields were compared."""
    before = both(nl)
    printed = run_ss(*ss_prefix)
    after = both(nl)
    problems, compared = [], 0
    assert set(printed) <= set(before) | set(after), "ss lists a socket we did not"
    for key, fields in printed.items():
        views = [ss_view(*reading[key]) if key in reading else {} for reading in (before, after)]
        problems += [f"{key}: {p}" for p in compare(fields, *views)]
        # and nothing we decode is missing from ss (it prints every non-zero field it knows)
        missing = set(views[0]) & set(views[1]) - set(fields) - NEWER_KEYS
        problems += [f"{key}: ss does not print {name}" for name in sorted(missing)]
        compared += len(fields)
    assert not problems, "\n".join(problems)
    return compared


def transfer(sender: socket.socket, receiver: socket.socket, count: int) -> None:
    chunk, got = bytes(65536), 0
    sent = 0
    while sent < count:
        sent += sender.send(chunk[: count - sent])
        while got < sent:
            got += len(receiver.recv(1 << 20))


def pair(host: str, *, listener_opts=(), client_opts=()):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lst = socket.socket(family, socket.SOCK_STREAM)
    for opt in listener_opts:
        lst.setsockopt(*opt)
    lst.bind((host, 0))
    lst.listen(4)
    client = socket.socket(family, socket.SOCK_STREAM)
    for opt in client_opts:
        client.setsockopt(*opt)
    client.connect(lst.getsockname()[:2])
    server, _ = lst.accept()
    return lst, client, server


def ends(sock: socket.socket) -> tuple:
    return (sock.getsockname()[:2], sock.getpeername()[:2])


def counters_scenario() -> int:
    nl = LiveNetlink()
    lst, client, server = pair("127.0.0.1", client_opts=[
        (socket.IPPROTO_IP, socket.IP_TOS, EF),
        (socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno"),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, TCP_KEEPIDLE_S),
    ])
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
    lst6, client6, server6 = pair("::1", client_opts=[(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, EF)])
    transfer(client, server, SENT)
    transfer(server, client, ANSWERED)
    transfer(client6, server6, 1000)
    sockets = both(nl)
    msg, ext = sockets[ends(client)]
    assert ext.info.bytes_acked >= SENT and ext.info.bytes_sent >= SENT
    assert ext.info.bytes_received >= ANSWERED
    assert ext.info.segs_out >= SENT // ext.info.snd_mss
    assert ext.congestion == "reno" and sockets[ends(server)][1].congestion == "cubic"
    assert ext.dscp(ipv4=True) == 46 and sockets[ends(server)][1].dscp(ipv4=True) == 0
    assert sockets[ends(client6)][1].dscp(ipv4=False) == 46
    assert sockets[ends(client6)][1].tclass == EF
    timer = diagext.decode_timer(msg.timer, msg.expires, msg.retrans)
    assert timer.name == "keepalive" and 0 < timer.expires_ms <= TCP_KEEPIDLE_S * 1000
    server_msg, server_ext = sockets[ends(server)]
    assert server_ext.info.bytes_received >= SENT and server_ext.info.bytes_acked >= ANSWERED
    assert ext.skmeminfo.sndbuf > 0 and ext.skmeminfo.rcvbuf > 0
    assert ext.info.length == len(msg.attrs[diagext.INET_DIAG_INFO])
    return check_against_ss(nl)


def test_counters_dscp_congestion_and_keepalive_agree_with_ss():
    assert isolated(counters_scenario) > 100


def udp_scenario() -> dict:
    """UDP answers the same request with what applies to it: TOS and memory, no tcp_info and no
    congestion control (udp_diag has no idiag_info_size, no icsk)."""
    nl = LiveNetlink()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, EF)
    sock.bind(("127.0.0.1", 0))
    sock.sendto(b"x" * 100, sock.getsockname())
    reply = nl.dump(diagreq.diag_request(4, "udp", states=ALL_STATES, ext=ALL_EXT))
    (msg,) = [m for m in diagreq.iter_messages(reply, DumpStats(), "udp") if m.local == sock.getsockname()]
    ext = diagext.decode_extensions(msg.attrs)
    return {"dscp": ext.dscp(ipv4=True), "info": ext.info, "congestion": ext.congestion,
            "queued": msg.rqueue, "rmem_alloc": ext.skmeminfo.rmem_alloc, "timer": msg.timer}


def test_udp_gets_tos_and_memory_but_no_tcp_internals():
    result = isolated(udp_scenario)
    assert result.pop("rmem_alloc") > 0 and result.pop("queued") > 0
    assert result == {"dscp": 46, "info": None, "congestion": None, "timer": 0}


def time_wait_scenario() -> dict:
    """The end that closes first waits in TIME_WAIT: a timewait socket, whose message has the
    timer (``timewait``, at most 60 s) and none of the extensions (only INET_DIAG_MARK, 15,
    to a CAP_NET_ADMIN reader: inet_twsk_diag_fill)."""
    nl = LiveNetlink()
    lst, client, server = pair("127.0.0.1")
    key = ends(client)
    client.shutdown(socket.SHUT_WR)
    server.recv(1)
    server.close()
    client.recv(1)
    client.close()
    msg, ext = dump(nl, 4)[key]
    timer = diagext.decode_timer(msg.timer, msg.expires, msg.retrans)
    check_against_ss(nl)
    return {"state": msg.state, "timer": timer.name, "expires_ms": timer.expires_ms,
            "extensions": ext.as_dict(), "attrs": sorted(msg.attrs)}


def test_a_time_wait_socket_has_its_timer_and_no_extensions():
    result = isolated(time_wait_scenario)
    assert 0 < result.pop("expires_ms") <= 60000
    assert set(result.pop("attrs")) <= {15}
    assert result == {"state": 6, "timer": "timewait",
                      "extensions": dict.fromkeys(diagext.Extensions.__slots__)}


def stalled_scenario() -> dict:
    """The receiver never reads: its receive queue fills, it advertises a zero window, and the
    sender, with data left, arms the zero-window probe (persist) timer."""
    nl = LiveNetlink()
    small = (socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lst, client, server = pair("127.0.0.1", listener_opts=[small])
    client.setblocking(False)
    queued = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            queued += client.send(bytes(16384))
        except BlockingIOError:
            msg, ext = dump(nl, 4)[ends(client)]
            if ext.info.snd_wnd == 0 and msg.timer == 4:
                break
            time.sleep(0.01)
    sockets = dump(nl, 4)
    msg, ext = sockets[ends(client)]
    server_msg, server_ext = sockets[ends(server)]
    assert ext.info.snd_wnd == 0, "the sender never saw a zero window"
    assert diagext.decode_timer(msg.timer, msg.expires, msg.retrans).name == "persist"
    assert server_msg.rqueue > 0 and server_ext.skmeminfo.rmem_alloc > 0
    assert server_ext.info.rcv_wnd == 0
    assert msg.wqueue + ext.info.notsent_bytes > 0 and ext.info.bytes_acked - 1 == server_msg.rqueue
    check_against_ss(nl)
    return {"unread": server_msg.rqueue, "queued": queued}


def test_a_receiver_that_stops_reading():
    result = isolated(stalled_scenario)
    assert result["unread"] > 0 and result["queued"] > result["unread"]


def bound_scenario() -> dict:
    nl = LiveNetlink()
    bound = socket.socket()
    bound.bind(("127.0.0.1", 0))
    here = (bound.getsockname(), ("0.0.0.0", 0))
    asked = dump(nl, 4, ext=0, states=diagreq.STATE_BOUND)
    usual = dump(nl, 4, ext=0, states=ALL_STATES & ~diagreq.STATE_BOUND)
    return {"asked": [m.state for key, (m, _e) in asked.items() if key == here],
            "usual": [m.state for key, (m, _e) in usual.items() if key == here]}


def kernel_at_least(major: int, minor: int) -> bool:
    return tuple(int(x) for x in os.uname().release.split(".")[:2]) >= (major, minor)


@pytest.mark.skipif(not kernel_at_least(6, 8), reason="sock_diag lists bound sockets since Linux 6.8")
def test_a_bound_socket_is_listed_only_when_state_bound_is_asked_for():
    # The kernel reports it as TCP_CLOSE (7): its sk_state; bit 13 only selects it.
    assert isolated(bound_scenario) == {"asked": [7], "usual": []}


def destroy_scenario() -> dict:
    nl = LiveNetlink()
    lst, client, server = pair("127.0.0.1")
    cookie = int.from_bytes(client.getsockopt(socket.SOL_SOCKET, 57, 8), "little")  # SO_COOKIE
    request = diagreq.destroy_socket(4, "tcp", *ends(client), cookie=cookie)
    wrong = diagreq.destroy_socket(4, "tcp", *ends(client), cookie=cookie + 1)
    outcome = {}
    try:
        diagreq.execute(nl, wrong)
    except NetlinkError as e:
        outcome["wrong cookie"] = errno.errorcode[e.errno]
    try:
        diagreq.execute(nl, request)
    except NetlinkError as e:
        return {**outcome, "destroy": errno.errorcode[e.errno]}
    outcome["destroy"] = "ok"
    for name, sock in (("client", client), ("server", server)):
        try:
            sock.recv(1)
            outcome[name] = "no error"
        except OSError as e:
            outcome[name] = errno.errorcode[e.errno]
    try:
        diagreq.execute(nl, request)
    except NetlinkError as e:
        outcome["again"] = errno.errorcode[e.errno]
    return outcome


def test_sock_destroy_aborts_the_connection():
    outcome = isolated(destroy_scenario)
    if outcome["destroy"] == "EOPNOTSUPP":
        pytest.skip("this kernel has no CONFIG_INET_DIAG_DESTROY")
    assert outcome == {"wrong cookie": "ENOENT", "destroy": "ok", "client": "ECONNABORTED",
                       "server": "ECONNRESET", "again": "ENOENT"}


DELAY_MS, LOSS_PCT, OVER_THE_PATH = 50, 5, 1_000_000


def lossy_scenario() -> dict:
    """A client in namespace A sends to a server in B over a path that delays A -> B by 50 ms
    and drops 5% (netem on a veth, or ``DelayLine`` where the kernel has no netem)."""
    from delay_line import A_ADDR, B_ADDR, DelayLine, enter, try_netem
    from record_stats import Netns

    a, b = Netns("tcpia"), Netns("tcpib")
    line = None
    try:
        how = "netem"
        if not try_netem(a, b, DELAY_MS, LOSS_PCT):
            how = "delay line"
            line = DelayLine(a, b, DELAY_MS / 1000, LOSS_PCT / 100)
        enter(b.name)
        lst = socket.create_server((B_ADDR, 0))
        enter(a.name)
        nl = LiveNetlink()
        client = socket.create_connection((B_ADDR, lst.getsockname()[1]), timeout=30)
        server, _ = lst.accept()
        server.settimeout(30)
        assert client.getsockname()[0] == A_ADDR
        transfer(client, server, OVER_THE_PATH)
        deadline = time.monotonic() + 10
        while True:  # the last ACKs may still be on their way back
            msg, ext = dump(nl, 4)[ends(client)]
            if not ext.info.unacked or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        info = ext.info
        assert DELAY_MS * 900 <= info.rtt <= DELAY_MS * 2000, f"rtt {info.rtt} us"
        assert DELAY_MS * 900 <= info.min_rtt <= DELAY_MS * 1500, f"min_rtt {info.min_rtt} us"
        assert info.total_retrans > 0 and info.bytes_retrans > 0
        assert info.bytes_acked > OVER_THE_PATH
        assert info.bytes_sent == info.bytes_acked - 1 + info.bytes_retrans  # -1: the SYN
        compared = check_against_ss(nl, "ip", "netns", "exec", a.name)
        return {"how": how, "rtt_us": info.rtt, "retrans": info.total_retrans, "compared": compared}
    finally:
        if line is not None:
            line.close()
        a.delete()
        b.delete()


@pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2's ip makes the namespaces")
def test_a_slow_lossy_path_shows_its_rtt_and_retransmissions():
    result = isolated(lossy_scenario)
    assert result["retrans"] > 0 and result["compared"] > 30, result
