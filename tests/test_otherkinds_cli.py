"""UNIX, RAW, ICMP (ping) and packet sockets through the command line: ``-p`` with the kinds
beyond the spec's, their text rows and JSON rows.

Replayed: the recording of tests/fixtures/linux/other-kinds (a scene of every kind, made by
tests/fixtures/other_scene.py), from its sock_diag dumps and from its /proc files alone (the
fallback, where the forged /proc/net/unix line is). Live: the same scene built in a network
namespace of the test's own, with the process at the other end of each UNIX connection, and ss
as the oracle of which sockets exist.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from other_checks import ss_unix_rows
from other_scene import VETH, OtherScene, prepare_namespace

from pynetstat.cli import main
from pynetstat.env import Environment
from test_json_schema import check

sys.path.insert(0, os.path.dirname(__file__))
from attack.sandbox import CLONE_NEWNET, in_child, unshare  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "linux", "other-kinds")
HEADINGS = {"unix": "### A UNIX socket", "raw": "### A RAW or ICMP socket",
            "raw6": "### A RAW or ICMP socket", "icmp": "### A RAW or ICMP socket",
            "icmp6": "### A RAW or ICMP socket", "packet": "### A packet socket",
            "vsock": "### A VSOCK socket"}
LISTENER = "/tmp/pnst-other-s4u7dh4u/pnst sock\nnl"  # the recording's listener path
FORGED_INODE = 1891716  # the inode the forged /proc/net/unix line names (the listener's)


def run(argv: list[str], netlink: str | None = None, proc: str | None = None) -> tuple[int, str, str]:
    environ = {"PYNETSTAT_RESOLVE_BUDGET": "0"}
    if netlink is not None:
        environ["PYNETSTAT_NETLINK_REPLAY"] = netlink
    if proc is not None:
        environ["PYNETSTAT_PROC_ROOT"] = proc
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, Environment(out, err, environ=environ))
    return status, out.getvalue(), err.getvalue()


def replayed(argv: list[str], *, diag: bool = True) -> tuple[int, str, str]:
    """pynetstat over the recording: its dumps and /proc files, or (``diag`` False) its /proc
    files alone, as on a kernel without the diag modules."""
    return run(argv, os.path.join(FIXTURE, "netlink" if diag else "no-such-recording"),
               os.path.join(FIXTURE, "proc"))


def rows_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()[4:]]


def check_rows(doc: dict) -> None:
    """Every row has the fields docs/json.md gives its kind, with their types, and no other."""
    for row in doc["connections"]:
        check({k: row[k] for k in row if k in _common()}, "### The other kinds")
        check({k: row[k] for k in row if k not in _common()}, HEADINGS[row["proto"]])


def _common() -> set:
    from test_json_schema import documented_fields

    return set(documented_fields("### The other kinds"))


# --- -p ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["-p", "unix", "-p", "RAW"], ["-p", "Unix,raw"], ["--proto=unix,raw"]])
def test_p_takes_the_kinds_repeated_or_as_a_list(argv):
    status, out, err = replayed(argv + ["-an"])
    assert status == 0, err
    protos = [row.split()[0] for row in rows_of(out)]
    assert set(protos) == {"UNIX", "RAW"} and protos.index("RAW") > protos.index("UNIX")


def test_p_all_is_every_kind_and_no_p_the_specs_view():
    status, out, err = replayed(["-p", "all", "-an"])
    assert {row.split()[0] for row in rows_of(out)} == {"UNIX", "RAW", "ICMP", "PACKET"}
    # no tcp or udp in the recording: said once each, and raw's fallback (no raw_diag here)
    assert "no tcp sockets could be read" in err and "raw: read proc instead of sock_diag" in err
    status, out, err = replayed(["-an"])
    assert rows_of(out) == []  # without -p: TCP and UDP only, as before


def test_unix_without_a_is_the_connected_sockets():
    status, out, err = replayed(["-p", "unix", "-n"])
    assert status == 0, err
    assert {row.split()[-1] for row in rows_of(out)} == {"CONNECTED"}
    assert len(rows_of(out)) == 7  # remote client, accepted, pending, socketpair x2, datagram x2


def test_a_kind_with_no_source_says_so_in_one_line(tmp_path):
    (tmp_path / "net").mkdir()
    status, out, err = run(["-p", "unix", "-an"], str(tmp_path / "none"), str(tmp_path))
    assert status == 0 and rows_of(out) == []
    assert err.splitlines() == ["pynetstat: no unix sockets could be read: sock_diag-unix (no "
                                "recording): Operation not supported (errno 95), and there is no "
                                "/proc/net/unix"]


# --- rows, replayed --------------------------------------------------------------------------



def test_replayed_unix_raw_and_ping_rows():
    status, out, err = replayed(["-p", "unix,raw,rawv6,icmp,icmpv6", "-an"])
    assert status == 0, err
    rows = [" ".join(row.split()) for row in rows_of(out)]
    path = "/tmp/pnst-other-s4u7dh4u/pnst\\x20sock\\nnl"
    forged = ("@pnst-forged\\n0000000000000000:\\x2000000002\\x2000000000\\x2000010000\\x200001"
              "\\x2001\\x201891716\\x20/pnst/fake\\x20path")
    assert rows == [
        f"UNIX * {path} STREAM CONNECTED",  # the other process's client: its peer carries the name
        f"UNIX {path} inode:1891719 STREAM CONNECTED",  # the accepted socket; no -o: the inode
        "UNIX * * STREAM",  # unbound
        "UNIX * * STREAM CONNECTED",  # a client not yet accepted: no peer inode yet
        "UNIX * @pnst-dgram DGRAM CONNECTED",
        "UNIX * inode:1891724 STREAM CONNECTED",  # the socketpair
        "UNIX * inode:1891725 STREAM CONNECTED",
        f"UNIX {path} * STREAM LISTENING",
        "UNIX \\@pnst-lit * DGRAM",  # a path that starts with "@" is not an abstract name
        "UNIX @pnst-seq\\x20abstract * SEQPACKET LISTENING",
        f"UNIX {forged} * DGRAM",  # the forgery, one escaped cell: no line of its own
        "UNIX @pnst-dgram * DGRAM CONNECTED",
        "RAW 127.0.0.1:253 *:*", "RAW 0.0.0.0:1 *:*", "RAW 0.0.0.0:255 *:*", "RAW [::1]:58 *:*",
        "ICMP 127.0.0.1:43891 *:*", "ICMP [::1]:43892 *:*",
    ]
    assert err.splitlines() == [
        "pynetstat: raw: read proc instead of sock_diag (sock_diag raw: No such file or "
        "directory (errno 2))",
        "pynetstat: raw6: read proc instead of sock_diag (sock_diag raw6: No such file or "
        "directory (errno 2))"]


def test_replayed_names_of_protocols_and_ethertypes():
    status, out, err = replayed(["-p", "raw,packet", "-a"])
    rows = [row.split() for row in rows_of(out)]
    assert [r[1] for r in rows if r[0] == "RAW"] == ["127.0.0.1:253", "0.0.0.0:icmp", "0.0.0.0:raw"]
    packet = [r for r in rows if r[0] == "PACKET"]
    assert [r[1].split(":")[1] for r in packet] == ["all", "ipv4", "all"]
    assert [r[1].split(":")[0] for r in packet][1] == "*"  # bound to no interface
    assert [r[3:] for r in packet] == [["RAW", "PROMISC"], ["DGRAM"], ["RAW", "FANOUT(7)", "RX_RING"]]


def test_replayed_json_rows_follow_the_document():
    status, out, err = replayed(["-p", "all", "-an", "--json"])
    assert status == 0, err
    doc = json.loads(out)
    check_rows(doc)
    rows = {r["inode"]: r for r in doc["connections"]}
    listener = rows[FORGED_INODE]
    assert (listener["path"], listener["abstract"], listener["state"], listener["type"],
            listener["recv_q"], listener["send_q"]) == (LISTENER, False, "LISTENING", "stream", 1, 5)
    assert (rows[1891719]["peer_inode"], rows[1891719]["peer_path"]) == (1891721, LISTENER)
    assert rows[1891728]["path"] == "@pnst-lit" and rows[1891728]["abstract"] is False
    assert rows[1891723]["path"] == "pnst-seq abstract" and rows[1891723]["abstract"] is True
    assert all(r["verified"] and not r["duplicate"] for r in rows.values() if r["proto"] == "unix")
    sniffer = [r for r in doc["connections"] if r["proto"] == "packet" and r["promiscuous"]]
    assert len(sniffer) == 1 and sniffer[0]["ethertype_name"] == "all"
    ring = [r for r in doc["connections"] if r["proto"] == "packet" and r["fanout"]]
    assert ring[0]["fanout"] == {"group": 7, "mode": "hash"}
    assert ring[0]["rx_ring"] == {"block_size": 4096, "block_nr": 2, "frame_size": 2048, "frame_nr": 4}
    raw = {r["ip_protocol"]: r for r in doc["connections"] if r["proto"] in ("raw", "raw6")}
    assert sorted(raw) == [1, 58, 253, 255] and raw[1]["ip_protocol_name"] == "icmp"
    assert not raw[1]["verified"]  # no raw_diag on the recorded kernel: /proc/net/raw
    assert doc["sources"] == {"unix": "netlink", "raw": "proc", "raw6": "proc", "icmp": "proc",
                              "icmp6": "proc", "packet": "netlink", "tcp": "unavailable",
                              "tcp6": "unavailable", "udp": "unavailable", "udp6": "unavailable",
                              # not in the recording: the replay answers EOPNOTSUPP
                              "mptcp": "unavailable", "mptcp6": "unavailable",
                              "sctp": "unavailable", "sctp6": "unavailable",
                              "vsock": "unavailable"}


def test_proc_fallback_flags_the_forged_line_and_keeps_both():
    """From /proc/net/unix alone: the forged line names the listener's inode, so both lines of
    that inode are flagged, both are shown, every row is unverified, and it is said."""
    status, out, err = replayed(["-p", "unix", "-an"], diag=False)
    assert status == 0
    flagged = [" ".join(r.split()) for r in rows_of(out) if "DUPLICATE" in r]
    assert flagged == ["UNIX /tmp/pnst-other-s4u7dh4u/pnst\\x20sock\\nnl * DUPLICATE STREAM LISTENING",
                       "UNIX /pnst/fake\\x20path * DUPLICATE STREAM LISTENING"]
    assert "unix: read proc instead of sock_diag" in err and "rows unverified" in err
    assert f"1 inode(s) named on more than one line ({FORGED_INODE})" in err
    status, out, err = replayed(["-p", "unix", "-an", "--json"], diag=False)
    doc = json.loads(out)
    check_rows(doc)
    assert not any(r["verified"] for r in doc["connections"])
    dup = [r for r in doc["connections"] if r["duplicate"]]
    assert [(r["inode"], r["path"]) for r in dup] == [(FORGED_INODE, LISTENER),
                                                       (FORGED_INODE, "/pnst/fake path")]
    # /proc cannot tell an abstract name from a path that starts with "@"
    assert {r["path"]: r["abstract"] for r in doc["connections"]}["@pnst-lit"] is None


# --- live ----------------------------------------------------------------------------------------

live_only = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("ss"),
    reason="needs root, ip and ss (network namespaces, packet and raw sockets)")


def _ss_inodes(argv: list[str]) -> set[int]:
    """The inodes ss lists with ``-e`` (``ino:N``)."""
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return {int(w[4:]) for line in out.splitlines() for w in line.split() if w.startswith("ino:")}


def _ss_raw(text: str) -> list[tuple[str, int]]:
    """``(local address, protocol)`` of each raw socket ss -wn lists (it prints no inode for
    them when it reads /proc/net/raw, as it does without raw_diag)."""
    out = []
    for line in text.splitlines():
        local, _, proto = line.split()[3].rpartition(":")
        local = local.strip("[]")
        out.append(({"*": "::"}.get(local, local), int(proto)))
    return sorted(out)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("otherkinds-cli"))

    def scene():
        prepare_namespace()
        built = OtherScene(workdir).build()
        try:
            got = {"account": built.account, "pid": os.getpid()}
            for name, argv in (("text", ["-p", "all", "-ano"]), ("json", ["-p", "all", "-ano", "--json"]),
                               ("textb", ["-p", "unix", "-anb"])):
                got[name] = run(argv)
            unix = subprocess.run(["ss", "-xaH"], capture_output=True, check=True).stdout
            raw = subprocess.run(["ss", "-waHn"], capture_output=True, text=True, check=True).stdout
            got["ss"] = {"unix": set(ss_unix_rows(unix)), "raw": _ss_raw(raw),
                         "packet": _ss_inodes(["ss", "-0aHe"])}
            got["ifindex"] = {name: __import__("socket").if_nametoindex(name) for name in VETH}
        finally:
            built.close()
        return got

    return in_child(scene, setup=lambda: unshare(CLONE_NEWNET))


@live_only
def test_live_rows_and_owners(live):
    status, out, err = live["text"]
    assert status == 0, err
    pid = str(live["pid"])
    account = {a["label"]: a for a in live["account"]}
    rows = [" ".join(r.split()) for r in rows_of(out)]
    path = "pnst\\x20sock\\nnl"
    listener = [r for r in rows if r.endswith(f"{path} * STREAM LISTENING {pid}")]
    assert len(listener) == 1
    # the accepted socket names the process at the other end, by PID and name
    remote = account["remote client"]["pid"]
    accepted = [r for r in rows if f"{path} {remote}/python" in r]
    assert len(accepted) == 1 and accepted[0].endswith(f"STREAM CONNECTED {pid}")
    # the other process's client: its peer's name, its own PID
    assert any(r.endswith(f"{path} STREAM CONNECTED {remote}") for r in rows)
    assert f"UNIX @pnst-seq\\x20abstract * SEQPACKET LISTENING {pid}" in rows
    assert f"UNIX @pnst-dgram * DGRAM CONNECTED {pid}" in rows
    assert f"UNIX * @pnst-dgram DGRAM CONNECTED {pid}" in rows
    pair = [r for r in rows if r.startswith(f"UNIX * {pid}/python") and r.endswith(f"CONNECTED {pid}")]
    assert len(pair) == 2  # the socketpair: no names, so each end names the process at the other
    assert f"RAW 0.0.0.0:1 *:* {pid}" in rows
    # bound to lo: raw_diag says so, /proc/net/raw does not (the kernel here has no raw_diag)
    assert f"RAW 127.0.0.1:253%lo *:* {pid}" in rows or f"RAW 127.0.0.1:253 *:* {pid}" in rows
    ident = account["ping 127.0.0.1"]["ident"]
    assert f"ICMP 127.0.0.1:{ident} *:* {pid}" in rows
    assert f"PACKET {VETH[0]}:0x0003 * RAW PROMISC {pid}" in rows


@live_only
def test_live_json_peers_name_each_other_across_processes(live):
    status, out, err = live["json"]
    doc = json.loads(out)
    check_rows(doc)
    rows = {r["inode"]: r for r in doc["connections"]}
    account = {a["label"]: a for a in live["account"]}
    server, client = account["accepted server"], account["remote client"]
    assert server["pid"] != client["pid"]
    assert rows[server["inode"]]["pid"] == server["pid"]
    assert rows[server["inode"]]["peer_pid"] == client["pid"]
    assert rows[client["inode"]]["pid"] == client["pid"]
    assert rows[client["inode"]]["peer_pid"] == server["pid"]
    assert rows[client["inode"]]["peer_owners"][0]["name"].startswith("python")
    a, b = account["socketpair a"], account["socketpair b"]
    assert (rows[a["inode"]]["peer_inode"], rows[b["inode"]]["peer_inode"]) == (b["inode"], a["inode"])
    sniffer = account["promiscuous sniffer"]
    assert rows[sniffer["inode"]]["promiscuous"] is True
    assert rows[sniffer["inode"]]["interface"] == VETH[0]
    forged = account["forged name"]
    assert rows[forged["inode"]]["uid"] == 65534 and rows[forged["inode"]]["verified"]
    assert rows[forged["inode"]]["path"].startswith("pnst-forged\n0000")


@live_only
def test_live_b_lines_under_unix_rows(live):
    status, out, err = live["textb"]
    assert status == 0, err
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if "SEQPACKET LISTENING" in line)
    under = []
    for line in lines[at + 1 :]:
        if line.startswith("  UNIX "):
            break
        under.append(line.strip())
    # the process holding it: its executable in brackets, as for a TCP row
    assert under and under[-1].startswith("[") and "python" in under[-1], under


@live_only
def test_live_sockets_are_what_ss_lists(live):
    """The oracle: the set of UNIX, RAW and packet sockets is ss's (by inode)."""
    doc = json.loads(live["json"][1])
    ours = {}
    for r in doc["connections"]:
        ours.setdefault({"raw6": "raw"}.get(r["proto"], r["proto"]), set()).add(r["inode"])
    assert ours["unix"] == live["ss"]["unix"]
    raw = sorted((r["local_address"], r["ip_protocol"]) for r in doc["connections"]
                 if r["proto"] in ("raw", "raw6"))
    assert raw == live["ss"]["raw"] and len(raw) == 4
    assert ours["packet"] == live["ss"]["packet"]
    assert len(ours["icmp"]) == 1 and len(ours["icmp6"]) == 1  # ss does not list ping sockets


# --- interval mode --------------------------------------------------------------------------------

def unix_changes_scenario():
    """-p unix --changes: a listener, a connection to it and their closing, each said once."""
    import signal
    import socket

    from test_interval_live import Lines, finish, start, text_change

    proc = start("-p", "unix", "-an", "--changes", "0.2")
    lines = Lines(proc.stdout)
    lines.wait_for(lambda line: line.startswith("Time "), "the heading of the changes")

    def expect(*rows: tuple) -> None:
        todo = set(rows)
        while todo:
            todo.discard(text_change(lines.wait_for(lambda line: text_change(line) in todo, f"{todo}")))

    listener = socket.socket(socket.AF_UNIX)
    listener.bind(b"\0pnst-k12-changes")
    listener.listen(2)
    expect(("+", "@pnst-k12-changes", "*", "STREAM LISTENING"))
    client = socket.socket(socket.AF_UNIX)
    client.connect(b"\0pnst-k12-changes")
    server, _ = listener.accept()
    client_inode = os.fstat(client.fileno()).st_ino
    expect(("+", "*", "@pnst-k12-changes", "STREAM CONNECTED"),
           ("+", "@pnst-k12-changes", f"inode:{client_inode}", "STREAM CONNECTED"))
    for sock in (client, server, listener):
        sock.close()
    expect(("-", "@pnst-k12-changes", "*", "STREAM LISTENING"))
    status, err = finish(proc, signal.SIGINT)
    return {"changes": [c for c in map(text_change, lines.rest()) if c], "status": status,
            "stderr": err}


@live_only
def test_interval_changes_of_unix_sockets():
    from test_interval_live import isolated

    got = isolated(unix_changes_scenario)
    assert got["status"] == 130, got["stderr"]
    ours = [tuple(c) for c in got["changes"] if "@pnst-k12-changes" in c[1:3]]
    # each change once: 3 appeared, 3 closed (the connection's two ends and the listener)
    assert sorted(mark for mark, *_ in ours) == ["+", "+", "+", "-", "-", "-"], ours


# --- fast paths ---------------------------------------------------------------------------------

@pytest.mark.parametrize("diag", [True, False])
def test_unix_columns_are_the_row_cells(diag):
    """The table's column path for UNIX batches gives the cells the row path gives, on the
    recording's every kind of UNIX socket (from unix_diag, and from /proc with the forgery)."""
    from pynetstat.linux.connections import collect
    from pynetstat.linux.netlink import ReplayNetlink
    from pynetstat.options import Options
    from pynetstat.render.endpoints import UnixColumns, row_cells

    opts = Options(all=True, numeric=True)
    opts.kinds = ("UNIX",)
    env = Environment(io.StringIO(), io.StringIO(), environ={
        "PYNETSTAT_PROC_ROOT": os.path.join(FIXTURE, "proc")})
    netlink = ReplayNetlink(os.path.join(FIXTURE, "netlink" if diag else "none"))
    columns = UnixColumns()
    seen = 0
    for batch in collect(opts, env, netlink):
        by_column = list(zip(*columns.cells(batch)))
        by_row = [row_cells(sock, str, None)[1:] for sock in batch.sockets()]
        assert by_column == by_row
        seen += len(by_row)
    assert seen == 12 + (0 if diag else 2)  # /proc: the forged line too, and the pending embryo


@live_only
def test_unix_column_decoder_is_the_record_decoder(tmp_path):
    """unixdiag.decode_columns (one unpack per usual message) gives what decode_dump gives, on
    the live scene's dump (named, unnamed, with and without a peer, listeners)."""
    def decode():
        from pynetstat.linux import unixdiag
        from pynetstat.linux.netlink import DumpStats, LiveNetlink

        prepare_namespace()
        scene = OtherScene(str(tmp_path)).build()
        source = LiveNetlink()
        try:
            request = unixdiag.build_request(show=unixdiag.LISTING_SHOW)
            columns = unixdiag.decode_columns(source.dump(request), DumpStats(), fast_after=0)
            records = list(unixdiag.decode_dump(source.dump(request), DumpStats(),
                                                unixdiag.LISTING_SHOW))
        finally:
            source.close()
            scene.close()
        fields = {"type": "type", "state": "state", "inode": "inode", "cookie": "cookie",
                  "path": "name", "abstract": "abstract", "peer": "peer", "recv_q": "rqueue",
                  "send_q": "wqueue", "uid": "uid"}
        as_rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
        return as_rows, [{k: getattr(r, v) for k, v in fields.items()} for r in records]

    by_column, by_record = in_child(decode, setup=lambda: unshare(CLONE_NEWNET))
    assert by_column == by_record and len(by_column) >= 12


@live_only
def test_unix_column_decoder_on_names_of_every_size(tmp_path):
    """The kernel's dump of listeners bound to abstract names of every length (1 to 107 bytes,
    every padded size of UNIX_DIAG_NAME) holding bytes that read as attribute headers and as a
    whole message, paths of many lengths, each listener with a connection (the accepted end
    carries the name): decode_columns gives what decode_dump gives, and most of the dump's
    buffers take the column path."""
    import socket
    import struct

    def decode():
        from pynetstat.linux import unixdiag
        from pynetstat.linux.netlink import DumpStats, LiveNetlink

        fake = (struct.pack("=HHI", 8, 2, 7) + struct.pack("=HHII", 12, 4, 0, 0)
                + struct.pack("=HHB3x", 5, 6, 0) + struct.pack("=HHI", 8, 7, 0))
        fake += struct.pack("=IHHII", 60, 20, 2, 0, 0) + b"\x01\x01\x01\x00" + bytes(12) + fake
        held = []
        for size in range(1, 108):
            names = [b"\0" + (fake * 2)[: size - 1]]
            if size > len(str(tmp_path)) + 2 and size % 3 == 0:
                names.append(os.path.join(str(tmp_path), "p" * (size - len(str(tmp_path)) - 2)).encode())
            for name in names:
                listener = socket.socket(socket.AF_UNIX)
                listener.bind(name)
                listener.listen(1)
                client = socket.socket(socket.AF_UNIX)
                client.connect(name)
                held += [listener, client, listener.accept()[0]]
        source = LiveNetlink()
        try:
            request = unixdiag.build_request(show=unixdiag.LISTING_SHOW)
            columns = unixdiag.decode_columns(source.dump(request), DumpStats(), fast_after=0)
            records = list(unixdiag.decode_dump(source.dump(request), DumpStats(),
                                                unixdiag.LISTING_SHOW))
            reply = source.dump(request)
            # each buffer's socket messages (before a final NLMSG_DONE) go by column
            taken = [unixdiag.UnixListing(0).add_messages(unixdiag.split_done(buf)[0],
                                                          reply.seq, DumpStats())
                     for buf in reply.chunks]
        finally:
            source.close()
            for sock in held:
                sock.close()
        by_column = list(zip(*(columns[name] for name in unixdiag.COLUMNS)))
        by_record = [(r.type, r.state, r.inode, r.cookie, r.name, r.abstract, r.peer, r.rqueue,
                      r.wqueue, r.uid) for r in records]
        return by_column, by_record, taken

    by_column, by_record, taken = in_child(decode, setup=lambda: unshare(CLONE_NEWNET))
    assert by_column == by_record
    assert len(by_record) >= 3 * 107
    assert sum(by_record[i][4] is not None for i in range(len(by_record))) >= 2 * 107
    assert taken and all(taken), taken


class _Requests:
    """A netlink source that keeps each request and answers it with an empty dump."""

    def __init__(self):
        self.requests = []

    def dump(self, request):
        from attack.kernel import done_message
        from pynetstat.linux.netlink import Reply

        self.requests.append(request)
        return Reply(1, iter([done_message(1)]))

    def close(self):
        pass


@pytest.mark.parametrize(("argv", "show"), [
    (["-p", "unix", "-a"], "TABLE_SHOW"), (["-p", "unix", "-ao"], "TABLE_SHOW"),
    (["-p", "unix", "-a", "--json"], "LISTING_SHOW"), (["-p", "all", "-an", "--json"], "LISTING_SHOW")])
def test_unix_request_asks_what_the_output_shows(argv, show):
    """The text table shows a UNIX socket's name and peer, not its queues or uid: its
    unix_diag request asks for NAME and PEER alone (``ss -xa`` asks for RQLEN too); JSON
    carries every field (RQLEN and UID asked for)."""
    import struct

    from pynetstat.linux import unixdiag

    source = _Requests()
    env = Environment(io.StringIO(), io.StringIO(), environ={}, netlink_factory=lambda: source)
    assert main(argv, env) == 0
    (request,) = [r for r in source.requests if r.key == unixdiag.REQUEST_KEY]
    udiag_show = struct.unpack_from("=I", request.payload, 12)[0]
    assert udiag_show == getattr(unixdiag, show)
