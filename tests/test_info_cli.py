"""--info, --timers, --memory through the command line (issue 13), on connections each test makes
in a private network namespace: the line under a row and the JSON objects of a known transfer,
a receiver that stops reading, and ss (``ss -tanoimO --tos``) run between two of our listings:
every field we print equals what ss prints for the same socket, or lies between our two readings.
The decoders themselves are tested in test_tcpinfo_{decode,live,replay}.py."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import time

import pytest
from ss_oracle import NEWER_KEYS, compare, parse_tokens, run_ss

from pynetstat.cli import main
from pynetstat.env import Environment
from test_interval_live import isolated
from test_tcpinfo_live import ends, pair, transfer

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="private network namespaces need root"),
]
SENT, ANSWERED = 2_000_000, 300_000
EF = 0xB8  # DSCP 46 << 2


def run(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), Environment(out, err, environ={"PYNETSTAT_RESOLVE_BUDGET": "0"}))
    assert status == 0 and not err.getvalue(), err.getvalue()
    return out.getvalue()


def _endpoint(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def text_rows(text: str) -> dict[tuple, list[list[str]]]:
    """``{(local, foreign): [tokens of each line under the row]}`` of the text table."""
    rows: dict[tuple, list[list[str]]] = {}
    under = None
    for line in text.splitlines():
        if line.startswith("  TCP ") or line.startswith("  UDP "):
            cells = line.split()
            key = (_endpoint(cells[1]), None if cells[2] == "*:*" else _endpoint(cells[2]))
            under = rows[key] = []
        elif line.startswith("    ") and under is not None:
            under.append(line.split())
    return rows


def json_rows(text: str) -> dict[tuple, dict]:
    doc = json.loads(text)
    return {((c["local_address"], c["local_port"]), (c["remote_address"], c["remote_port"])): c
            for c in doc["connections"]}


def transfer_scenario() -> dict:
    lst, client, server = pair("127.0.0.1", client_opts=[
        (socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno"),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 600),
    ])
    transfer(client, server, SENT)
    transfer(server, client, ANSWERED)
    text = text_rows(run("-n", "--info", "--timers", "--memory"))
    plain = text_rows(run("-n"))
    rows = json_rows(run("-n", "--info", "--timers", "--memory", "--json"))
    bare = json_rows(run("-n", "--json"))
    (line,) = text[ends(client)]
    tokens = parse_tokens(line)
    me, peer = rows[ends(client)], rows[ends(server)]
    return {
        "plain_lines": [lines for lines in plain.values() if lines],
        "bare_objects": [(c["timer"], c["memory"], c["tcp_info"]) for c in bare.values()
                         if (c["timer"], c["memory"], c["tcp_info"]) != (None, None, None)],
        "text_bytes_acked": int(tokens["bytes_acked"]), "text_bytes_received": int(tokens["bytes_received"]),
        "text_reno": "reno" in tokens, "text_timer": tokens["timer"].split(",")[0],
        "text_skmem": tokens["skmem"].startswith("r"), "first_token": line[0].split(",")[0],
        "json_bytes_acked": me["tcp_info"]["bytes_acked"],
        "json_bytes_received": me["tcp_info"]["bytes_received"],
        "json_peer_received": peer["tcp_info"]["bytes_received"],
        "json_congestion": me["tcp_info"]["congestion"], "json_timer": me["timer"]["name"],
        "json_sndbuf": me["memory"]["sndbuf_bytes"], "json_mss": me["tcp_info"]["snd_mss_bytes"],
        "json_segs_out": me["tcp_info"]["segs_out"],
    }


def test_a_known_transfer_shows_in_text_and_json():
    r = isolated(transfer_scenario)
    # without the flags: no line under any row, every extension object null
    assert r.pop("plain_lines") == [] and r.pop("bare_objects") == []
    assert r.pop("text_bytes_acked") >= SENT and r.pop("json_bytes_acked") >= SENT
    assert r.pop("text_bytes_received") >= ANSWERED and r.pop("json_bytes_received") >= ANSWERED
    assert r.pop("json_peer_received") >= SENT
    assert r.pop("json_sndbuf") > 0 and r.pop("json_segs_out") >= SENT // r.pop("json_mss")
    assert r == {"text_reno": True, "text_timer": "keepalive", "text_skmem": True,
                 "first_token": "timer:(keepalive", "json_congestion": "reno",
                 "json_timer": "keepalive"}


def stalled_scenario() -> dict:
    """The receiver never reads: its receive queue fills and it advertises a zero window; the
    sender's zero-window probe (persist) timer runs."""
    small = (socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lst, client, server = pair("127.0.0.1", listener_opts=[small])
    client.setblocking(False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.send(bytes(16384))
        except BlockingIOError:
            rows = json_rows(run("-n", "--info", "--timers", "--memory", "--json"))
            me = rows[ends(client)]
            if me["tcp_info"]["snd_wnd_bytes"] == 0 and me["timer"]["name"] == "persist":
                break
            time.sleep(0.01)
    text = text_rows(run("-n", "--timers", "--memory"))
    me, peer = rows[ends(client)], rows[ends(server)]
    return {"snd_wnd": me["tcp_info"]["snd_wnd_bytes"], "timer": me["timer"]["name"],
            "recv_q": peer["recv_q"], "rmem": peer["memory"]["rmem_alloc_bytes"],
            "rcv_wnd": peer["tcp_info"]["rcv_wnd_bytes"],
            "text_timer": parse_tokens(text[ends(client)][0]).get("timer", "").split(",")[0],
            "text_rmem": parse_tokens(text[ends(server)][0])["skmem"].split(",")[0]}


def test_a_receiver_that_stops_reading():
    r = isolated(stalled_scenario)
    assert r.pop("recv_q") > 0 and r.pop("rmem") > 0
    assert r.pop("text_rmem") != "r0"
    assert r == {"snd_wnd": 0, "timer": "persist", "rcv_wnd": 0, "text_timer": "persist"}


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def oracle_scenario() -> dict:
    lst, client, server = pair("127.0.0.1", client_opts=[
        (socket.IPPROTO_IP, socket.IP_TOS, EF), (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)])
    lst6, client6, server6 = pair("::1")
    transfer(client, server, SENT)
    transfer(server, client, ANSWERED)
    transfer(client6, server6, 100_000)
    argv = ("-an", "--info", "--timers", "--memory")
    before = text_rows(run(*argv))
    printed = run_ss()
    after = text_rows(run(*argv))
    problems, compared = [], 0
    for key in (ends(s) for s in (client, server, client6, server6)):
        ours = [parse_tokens(reading[key][0]) for reading in (before, after)]
        ss = printed[key]
        # every key ss prints that we print too: equal to a reading of ours, or between them
        shared = {k: v for k, v in ss.items() if k in ours[0] or k in ours[1]}
        problems += [f"{key}: {p}" for p in compare(shared, *ours)]
        compared += len(shared)
        # what we print and ss does not: ss leaves zeros out (and an old ss, newer keys)
        for name in set(ours[0]) - set(ss) - NEWER_KEYS:
            if any(float(n) for n in _NUMBER.findall(ours[0][name])) and \
                    any(float(n) for n in _NUMBER.findall(ours[1].get(name, "0"))):
                problems.append(f"{key}: we print {name}:{ours[0][name]}, ss does not")
    return {"problems": problems, "compared": compared}


@pytest.mark.skipif(shutil.which("ss") is None, reason="the oracle is iproute2's ss")
def test_every_field_we_print_agrees_with_ss():
    r = isolated(oracle_scenario)
    assert r["problems"] == [] and r["compared"] > 60, r


def dscp_scenario() -> dict:
    """IP_TOS 0xb8 (DSCP 46, Expedited Forwarding) on an IPv4 client, IPV6_TCLASS 0xb8 on an
    IPv6 one, IP_TOS on an IPv6 socket talking to an IPv4-mapped peer (its packets are IPv4)."""
    lst, client, server = pair("127.0.0.1", client_opts=[(socket.IPPROTO_IP, socket.IP_TOS, EF)])
    lst6, client6, server6 = pair("::1", client_opts=[(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, EF)])
    mapped_lst = socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True)
    mapped = socket.socket(socket.AF_INET6)
    mapped.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x28)  # DSCP 10 (AF11)
    mapped.connect(("::ffff:127.0.0.1", mapped_lst.getsockname()[1]))
    mapped_peer, _ = mapped_lst.accept()
    text = text_rows(run("-and"))
    rows = json_rows(run("-and", "--json"))
    socks = {"client": client, "server": server, "client6": client6, "server6": server6,
             "mapped": mapped}
    return {"text": {name: text[ends(s)] for name, s in socks.items()},
            "json": {name: rows[ends(s)]["dscp"] for name, s in socks.items()}}


def test_dscp_of_ipv4_ipv6_and_mapped_sockets():
    r = isolated(dscp_scenario)
    expected = {"client": 46, "server": 0, "client6": 46, "server6": 0, "mapped": 10}
    assert r["json"] == expected
    assert r["text"] == {name: [[f"dscp:{value}"]] for name, value in expected.items()}



def bound_scenario() -> dict:
    bound = socket.socket()
    bound.bind(("127.0.0.1", 0))
    bound6 = socket.socket(socket.AF_INET6)
    bound6.bind(("::1", 0))
    lst, client, server = pair("127.0.0.1")
    keys = {"bound": (bound.getsockname(), ("0.0.0.0", 0)),
            "bound6": (bound6.getsockname()[:2], ("::", 0)),
            "listener": (lst.getsockname(), ("0.0.0.0", 0)), "client": ends(client)}
    with_q, with_a = text_rows(run("-nq")), text_rows(run("-na"))
    out, err = io.StringIO(), io.StringIO()
    main(["-nq", "--json"], Environment(out, err))
    rows = json_rows(out.getvalue())
    states = {}
    for line in run("-nq").splitlines():
        cells = line.split()
        if len(cells) == 4 and cells[0] == "TCP":
            states[(_endpoint(cells[1]), _endpoint(cells[2]))] = cells[3]
    return {"q": {name: states.get(key) for name, key in keys.items()},
            "a": {name: key in with_a for name, key in keys.items()},
            "in_q": {name: key in with_q for name, key in keys.items()},
            "json": [rows[keys["bound"]]["state"], rows[keys["bound"]]["kernel_state"]],
            "stderr": err.getvalue()}


def kernel_at_least(major: int, minor: int) -> bool:
    return tuple(int(x) for x in os.uname().release.split(".")[:2]) >= (major, minor)


@pytest.mark.skipif(not kernel_at_least(6, 8), reason="sock_diag lists bound sockets since Linux 6.8")
def test_q_lists_bound_sockets_as_bound():
    r = isolated(bound_scenario)
    assert r["q"] == {"bound": "BOUND", "bound6": "BOUND", "listener": "LISTENING",
                      "client": "ESTABLISHED"}
    assert r["a"] == {"bound": False, "bound6": False, "listener": True, "client": True}
    assert r["json"] == ["BOUND", "BOUND_INACTIVE"] and r["stderr"] == ""


def fast_paths_scenario() -> dict:
    """Many sockets of one kind (runs of equal-length messages): the run-at-a-time decoder
    (diagext.run_extensions) gives what the message-by-message one gives; the one-``%`` text
    (render.extensions.info_text) is the tokens of the reference path, joined; and the --info
    text of a batch made a field at a time (info_texts), whether from the dump's buffer (the
    text view's path: no records) or from the records, is that of the message-by-message
    records, byte for byte."""
    from pynetstat.linux import diagext, diagreq, sockdiag
    from pynetstat.linux.netlink import DumpStats, LiveNetlink, Reply
    from pynetstat.render.extensions import INDENT, info_text, info_texts, info_tokens

    nl = LiveNetlink()
    socks = [pair("127.0.0.1") for _ in range(60)]
    for _lst, client, server in socks[::3]:
        transfer(client, server, 70_000)
    fast, runs, columns, lines = {}, 0, [], 0
    for bits in (diagext.request_bits(("tos", "timer", "memory", "tcp_info")),
                 diagext.request_bits(("tcp_info",))):
        reply = nl.dump(diagreq.diag_request(4, "tcp", states=0xFFFFFFFF, ext=bits))
        chunks = list(reply.chunks)
        slow = {}
        for m in diagreq.iter_messages(Reply(reply.seq, iter(chunks)), DumpStats(), "test"):
            slow[(m.local, m.remote)] = diagext.decode_extensions(
                m.attrs, diagext.decode_timer(m.timer, m.expires, m.retrans))
        for batch in sockdiag.decode_batches(Reply(reply.seq, iter(chunks)), "tcp", 4,
                                             DumpStats(), extensions=True):
            runs += isinstance(batch.extensions, diagext.RunExtensions)
            keys = [((s.local_address, s.local_port), (s.remote_address, s.remote_port))
                    for s in batch.sockets()]
            for numeric in (True, False):
                reference = [INDENT + " ".join(info_tokens(slow[key], numeric)) + "\n"
                             for key in keys]
                by_buffer = info_texts(batch.extensions, numeric)  # before any record is made
                by_records = info_texts(tuple(batch.extensions), numeric)
                columns += [by_buffer == reference, by_records == reference]
                lines += len(reference)
            for key, ext in zip(keys, batch.extensions):
                fast[key] = (slow[key], ext)
    differ = [str(key) for key, (old, new) in fast.items() if old.as_dict() != new.as_dict()]
    texts = [(info_text(ext, numeric), " ".join(info_tokens(ext, numeric)))
             for _old, ext in fast.values() for numeric in (True, False)]
    return {"sockets": len(fast), "differ": differ, "runs": runs, "lines": lines,
            "text_differ": [t for t in texts if t[0] != t[1]], "columns": columns}


def test_the_fast_paths_equal_the_reference_paths():
    r = isolated(fast_paths_scenario)
    assert r["sockets"] >= 180 and r["runs"] >= 2 and r["lines"] >= 4 * 180
    assert r["differ"] == [] and r["text_differ"] == []
    assert r["columns"] and all(r["columns"])


def _private_hosts_file(text: str) -> None:
    """This process (a forked child) in a mount namespace of its own, where /etc/hosts says
    ``text``."""
    import ctypes
    import tempfile

    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.unshare(0x00020000) == 0, os.strerror(ctypes.get_errno())  # CLONE_NEWNS
    assert libc.mount(b"none", b"/", None, 0x40000 | 0x4000, None) == 0  # MS_PRIVATE | MS_REC
    path = tempfile.mktemp(prefix="k13hosts")
    with open(path, "w") as f:
        f.write(text)
    assert libc.mount(path.encode(), b"/etc/hosts", None, 0x1000, None) == 0, \
        os.strerror(ctypes.get_errno())  # MS_BIND


def run_named(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), Environment(out, err, environ={"PYNETSTAT_RESOLVE_BUDGET": "2"}))
    assert status == 0, err.getvalue()
    return out.getvalue()


def fqdn_scenario() -> dict:
    _private_hosts_file("127.0.0.2 db1.example.test db1\n127.0.0.1 localhost\n")
    lst = socket.create_server(("127.0.0.2", 0))
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    key = client.getsockname()

    def foreign(*argv: str) -> str | None:
        for line in run_named(*argv).splitlines():
            cells = line.split()
            if len(cells) == 4 and cells[1].rsplit(":", 1)[0] == key[0] and \
                    cells[2].endswith(f":{lst.getsockname()[1]}"):
                return cells[2].rsplit(":", 1)[0]
        return None

    (row,) = [c for c in json.loads(run_named("-a", "--json"))["connections"]
              if (c["local_address"], c["local_port"]) == key]
    return {"short": foreign("-a"), "full": foreign("-af"), "numeric": foreign("-anf"),
            "json": row["remote_host"]}


def test_f_shows_fully_qualified_foreign_names_and_short_ones_without_it():
    r = isolated(fqdn_scenario)
    assert r == {"short": "db1", "full": "db1.example.test", "numeric": "127.0.0.2",
                 "json": "db1.example.test"}


def times_scenario() -> dict:
    """-i: the timer left and the times since the last send, receive and ACK, each labelled;
    a TIME_WAIT socket has its timer only; nothing is called a time in state."""
    lst, client, server = pair("127.0.0.1", client_opts=[
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1), (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 600)])
    transfer(client, server, 10_000)
    lst2, closing, other = pair("127.0.0.1")
    waiting = ends(closing)
    closing.shutdown(socket.SHUT_WR)
    other.recv(1)
    other.close()
    closing.recv(1)
    closing.close()
    time.sleep(0.3)
    text = run("-ani")
    rows = text_rows(text)
    doc = json_rows(run("-ni", "--json"))
    me = doc[ends(client)]
    return {"client": " ".join(rows[ends(client)][0]), "time_wait": " ".join(rows[waiting][0]),
            "listener": rows[(lst.getsockname(), ("0.0.0.0", 0))],
            "in_state": "in state" in text.lower(),
            "json_timer": me["timer"]["name"], "json_idle": me["tcp_info"]["last_data_sent_ms"]}


def test_i_shows_what_linux_knows_of_time_labelled():
    r = isolated(times_scenario)
    assert re.fullmatch(r"timer left: keepalive \S+; since last data sent: \d+ms, data received: "
                        r"\d+ms, ACK received: \d+ms", r.pop("client")), r
    assert re.fullmatch(r"timer left: timewait \S+;", r.pop("time_wait"))
    assert r.pop("json_idle") >= 300
    assert r == {"listener": [], "in_state": False, "json_timer": "keepalive"}


def processes_scenario() -> dict:
    """A child holding 3 TCP sockets and 2 UDP ones, and this process's listener, which it
    inherits (a socket two processes hold counts for each): -c lists the child first with its
    counts, in text and JSON."""
    mine = socket.create_server(("127.0.0.1", 0))
    ready_r, ready_w = os.pipe()  # the child -> us: its sockets are open
    done_r, done_w = os.pipe()  # us -> the child: we have looked
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child holds its sockets until told)
        lst = socket.create_server(("127.0.0.1", 0))
        held = [lst, socket.create_connection(lst.getsockname()), lst.accept()[0]]
        udp = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
        for u in udp:
            u.bind(("127.0.0.1", 0))
        os.write(ready_w, b"x")
        os.read(done_r, 1)
        del held, udp
        os._exit(0)
    try:
        os.read(ready_r, 1)
        text = run("-c")
        doc = json.loads(run("-c", "--json"))
    finally:
        os.write(done_w, b"x")
        os.waitpid(pid, 0)
    rows = [line.split() for line in text.splitlines()[4:] if line.strip()]
    mine.close()
    return {"rows": [r[:4] for r in rows], "me": os.getpid(), "child": pid,
            "json": [(p["pid"], p["ports"], p["tcp"], p["udp"]) for p in doc["processes"]],
            "heading": text.splitlines()[3].split()}


def test_c_lists_processes_by_ports_held():
    r = isolated(processes_scenario)
    me, child = r["me"], r["child"]
    assert r["heading"] == ["Ports", "TCP", "UDP", "PID", "Name"]
    assert r["rows"] == [["6", "4", "2", str(child)], ["1", "1", "0", str(me)]]
    assert r["json"] == [[child, 6, 4, 2], [me, 1, 1, 0]]
