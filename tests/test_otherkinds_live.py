"""The other kinds against the live kernel: UNIX, packet, RAW and ping sockets made by the test
in a network namespace of its own (tests/fixtures/other_scene.py), decoded from sock_diag and
parsed from /proc, and checked against the socket API's account of them and against ss.

Everything runs in one forked child that leaves the test's network namespace (so the dumps
hold exactly the scene's sockets), and comes back as plain data.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys

import pytest
from other_scene import VETH, OtherScene, prepare_namespace

sys.path.insert(0, os.path.dirname(__file__))
from attack.sandbox import CLONE_NEWNET, in_child, unshare  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("ss"),
    reason="needs root, ip and ss (network namespaces, packet and raw sockets)")]

PROC_FILES = ("unix", "packet", "raw", "raw6", "icmp", "icmp6")
SS = {"unix": ["ss", "-xaH"], "packet": ["ss", "-0aHe"], "raw": ["ss", "-waHn"]}


def collect(workdir: str) -> dict:
    from pynetstat.errors import NetlinkError
    from pynetstat.linux import diagprobe, packetdiag, rawdiag, unixdiag
    from pynetstat.linux.netlink import DumpStats, LiveNetlink

    prepare_namespace()
    scene = OtherScene(workdir).build()
    source = LiveNetlink()
    try:
        stats = DumpStats()
        out = {"account": scene.account,
               "unix": [s.as_dict() for s in unixdiag.decode_dump(source.dump(unixdiag.build_request()), stats)],
               "packet": [s.as_dict() for s in packetdiag.decode_dump(source.dump(packetdiag.build_request()), stats)],
               "raw": {}}
        for family in (4, 6):
            try:
                out["raw"][family] = [s.as_dict() for s in rawdiag.decode_dump(
                    source.dump(rawdiag.build_request(family)), stats, family)]
            except NetlinkError as e:
                out["raw"][family] = e.errno
        out["stats"] = (stats.messages, stats.malformed, stats.foreign)
        out["probes"] = {k: None if e is None else e.errno for k, e in diagprobe.probe_all(source).items()}
        out["proc"] = {}
        for name in PROC_FILES:
            with open(f"/proc/net/{name}", "rb") as f:
                out["proc"][name] = f.read()
        out["ss"] = {k: subprocess.run(argv, capture_output=True, check=True).stdout
                     for k, argv in SS.items()}
        out["ip_link"] = subprocess.run(["ip", "-d", "link", "show", VETH[0]], capture_output=True,
                                        text=True, check=True).stdout
        out["ifnames"] = {i: n for i, n in __import__("socket").if_nameindex()}
    finally:
        source.close()
        scene.close()
    return out


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("otherkinds"))
    return in_child(lambda: collect(workdir), setup=lambda: unshare(CLONE_NEWNET))


def by_inode(rows) -> dict:
    return {r["inode"]: r for r in rows}


def account(live, kind: str) -> list[dict]:
    return [a for a in live["account"] if a["kind"] == kind]


# --- UNIX -------------------------------------------------------------------------------------

def test_unix_diag_matches_the_socket_api(live):
    got = by_inode(live["unix"])
    expected = account(live, "unix")
    assert set(got) == {a["inode"] for a in expected}  # the namespace holds the scene only
    for a in expected:
        r = got[a["inode"]]
        name = bytes.fromhex(a["name"]) if a["name"] else None
        want_name = None if name is None else (name[1:] if a["abstract"] else name.rstrip(b"\0"))
        assert (r["type"], r["state"], r["name"], r["abstract"], r["peer"], r["uid"]) == \
            (a["type"], a["state"], want_name, a["abstract"], a["peer"], a["uid"]), a["label"]
        assert r["verified"] and not r["duplicate"] and r["cookie"] is not None
        if "queues" in a:
            assert [r["rqueue"], r["wqueue"]] == a["queues"], a["label"]
        if "icons" in a:
            assert list(r["icons"]) == a["icons"] and r["backlog"] == a["queues"][1], a["label"]
        else:
            assert r["backlog"] is None and r["icons"] is None, a["label"]


def test_unix_peers_name_each_other_across_processes(live):
    rows = {a["label"]: a for a in account(live, "unix")}
    got = by_inode(live["unix"])
    client, server = rows["remote client"], rows["accepted server"]
    assert client["pid"] != os.getpid()
    assert got[client["inode"]]["peer"] == server["inode"]
    assert got[server["inode"]]["peer"] == client["inode"]
    a, b = rows["socketpair a"], rows["socketpair b"]
    assert (got[a["inode"]]["peer"], got[b["inode"]]["peer"]) == (b["inode"], a["inode"])


def test_unix_names_path_abstract_and_literal_at(live):
    rows = {a["label"]: by_inode(live["unix"])[a["inode"]] for a in account(live, "unix")}
    assert rows["path listener"]["name"].endswith(b"/pnst sock\nnl")
    assert rows["path listener"]["abstract"] is False and rows["path listener"]["vfs"] is not None
    assert (rows["abstract seqpacket listener"]["name"], rows["abstract seqpacket listener"]["abstract"]) == \
        (b"pnst-seq abstract", True)
    assert (rows["path starting with @"]["name"], rows["path starting with @"]["abstract"]) == \
        (b"@pnst-lit", False)
    assert rows["forged name"]["name"].startswith(b"pnst-forged\n0000000000000000: ")
    assert rows["forged name"]["uid"] == 65534


def test_unix_proc_fallback_flags_the_forgery(live):
    from pynetstat.linux.procfs_other import parse_unix

    rows = parse_unix(live["proc"]["unix"])
    assert all(not r.verified for r in rows)
    forged = next(a for a in account(live, "unix") if a["label"] == "forged name")
    victim = [r for r in rows if r.inode == forged["victim"]]
    assert len(victim) == 2 and all(r.duplicate for r in victim)  # the real line and the fake one
    assert {r.name for r in victim} >= {b"/pnst/fake path"}
    mine = [r for r in rows if r.inode == forged["inode"]]
    assert len(mine) == 1 and mine[0].name == b"@pnst-forged" and not mine[0].duplicate
    # every socket the diag dump holds is in /proc too; only the victim is flagged
    diag = by_inode(live["unix"])
    assert {r.inode for r in rows if r.inode} == set(diag)
    assert {r.inode for r in rows if r.duplicate} == {forged["victim"]}
    for r in rows:
        if r.inode and not r.duplicate:
            d = diag[r.inode]
            assert (r.type, r.state) == (d["type"], d["state"])
            if d["name"] is None:
                assert r.name is None
            elif d["abstract"]:
                assert r.abstract is None and r.name[1:] == d["name"].replace(b"\0", b"@") \
                    or r.inode == forged["inode"]
            else:  # a path: the newline in one is joined back; "@pnst-lit" cannot be told apart
                assert r.name == d["name"] and r.abstract is (None if d["name"][:1] == b"@" else False)


_SS_UNIX = re.compile(rb"(u_str|u_dgr|u_seq)\s+(\S+)\s+(\d+)\s+(\d+)\s+(.*?)\s+(\d+)\s+\*\s+(\d+)\s*",
                      re.DOTALL)
_SS_TYPES = {b"u_str": 1, b"u_dgr": 2, b"u_seq": 5}
_SS_STATES = {b"ESTAB": 1, b"UNCONN": 7, b"LISTEN": 10}


def ss_unix_rows(text: bytes) -> dict:
    """``ss -xaH`` rows by inode. ss prints names raw, so a name's newline starts a line of its
    own: a line that does not start with a netid continues the one before."""
    rows: list[bytes] = []
    for line in text.split(b"\n"):
        if re.match(rb"u_(str|dgr|seq) ", line) or not rows:
            rows.append(line)
        else:
            rows[-1] += b"\n" + line
    out = {}
    for row in rows:
        if not row.strip():
            continue
        m = _SS_UNIX.fullmatch(row)
        assert m, row
        out[int(m[6])] = {"type": _SS_TYPES[m[1]], "state": _SS_STATES[m[2]], "rq": int(m[3]),
                          "wq": int(m[4]), "name": m[5], "peer": int(m[7])}
    return out


def test_unix_matches_ss(live):
    ss = ss_unix_rows(live["ss"]["unix"])
    got = by_inode(live["unix"])
    assert set(ss) == set(got)
    for ino, s in ss.items():
        r = got[ino]
        if r["name"] is None:
            shown = b"*"
        elif r["abstract"]:
            shown = b"@" + r["name"].replace(b"\0", b"@")
        else:
            shown = r["name"]
        assert (s["type"], s["state"], s["rq"], s["wq"], s["name"], s["peer"]) == \
            (r["type"], r["state"], r["rqueue"], r["wqueue"], shown, r["peer"])


# --- packet -----------------------------------------------------------------------------------

def test_packet_diag_matches_the_socket_api(live):
    got = by_inode(live["packet"])
    expected = account(live, "packet")
    assert set(got) == {a["inode"] for a in expected}
    for a in expected:
        r = got[a["inode"]]
        ring = r["rx_ring"]
        assert (r["type"], r["protocol"], r["ifindex"], r["promiscuous"], r["uid"], r["filter_len"]) == \
            (a["type"], a["protocol"], a["ifindex"], a["promiscuous"], a["uid"], a["filter_len"]), a["label"]
        assert (list(r["fanout"]) if r["fanout"] else None) == a["fanout"], a["label"]
        assert ([ring.block_size, ring.block_nr, ring.frame_size, ring.frame_nr] if ring else None) \
            == a["ring"], a["label"]
        assert r["tx_ring"] is None and r["verified"] and r["running"] is True
    # the kernel agrees that the interface is held in promiscuous mode by one socket
    assert "promiscuity 1 " in live["ip_link"]


def test_packet_proc_and_ss_agree_with_the_diag(live):
    from pynetstat.linux.procfs_other import parse_packet

    got = by_inode(live["packet"])
    proc = {r.inode: r for r in parse_packet(live["proc"]["packet"].decode())}
    assert set(proc) == set(got)
    for ino, r in proc.items():
        d = got[ino]
        assert (r.type, r.protocol, r.ifindex, r.running, r.uid, r.rmem) == \
            (d["type"], d["protocol"], d["ifindex"], d["running"], d["uid"], d["rmem"])
        assert r.promiscuous is None and not r.verified
    ss = {}
    for line in live["ss"]["packet"].decode().splitlines():
        if line.startswith("p_"):
            f = line.split()
            ss[int(re.search(r"ino:(\d+)", line)[1])] = (f[0], f[4].rpartition(":")[2], int(f[2]))
    assert set(ss) == set(got)
    for ino, (netid, iface, rq) in ss.items():
        d = got[ino]
        assert netid == {3: "p_raw", 2: "p_dgr"}[d["type"]]
        assert iface == ("*" if d["ifindex"] == 0 else live["ifnames"][d["ifindex"]])
        assert rq == d["rmem"]


# --- RAW and ping -----------------------------------------------------------------------------

def test_raw_sockets_from_diag_or_proc(live):
    from pynetstat.linux.procfs_other import parse_raw

    expected = account(live, "raw")
    proc = {}
    for family, name in ((4, "raw"), (6, "raw6")):
        proc.update((r.inode, r) for r in parse_raw(live["proc"][name].decode(), name, family))
    assert set(proc) == {a["inode"] for a in expected}
    for a in expected:
        r = proc[a["inode"]]
        assert (r.family, r.protocol, r.local_address, r.uid) == \
            (a["family"], a["protocol"], a["local"], a["uid"]), a["label"]
        assert r.ifindex is None and not r.verified
    for family in (4, 6):
        dump = live["raw"][family]
        if isinstance(dump, int):  # no raw_diag in this kernel (CONFIG_INET_RAW_DIAG unset)
            assert dump == errno.ENOENT and live["probes"]["raw" if family == 4 else "raw6"] == errno.ENOENT
            continue
        for r in dump:  # a kernel with raw_diag: it must say what /proc and the socket API say
            a = next(a for a in expected if a["inode"] == r["inode"])
            assert (r["family"], r["protocol"], r["local_address"], r["ifindex"]) == \
                (a["family"], a["protocol"], a["local"], a["ifindex"])


def test_raw_matches_ss(live):
    """ss -w lists the same raw sockets: by local address and protocol (its "port")."""
    from pynetstat.linux.procfs_other import parse_raw

    ours = set()
    for family, name in ((4, "raw"), (6, "raw6")):
        for r in parse_raw(live["proc"][name].decode(), name, family):
            ours.add((r.local_address, r.protocol, r.rqueue, r.wqueue))
    theirs = set()
    for line in live["ss"]["raw"].decode().splitlines():
        f = line.split()
        local, _, proto = f[3].rpartition(":")
        local = local.strip("[]")
        theirs.add(({"*": "::"}.get(local, local), int(proto), int(f[1]), int(f[2])))
    assert theirs == ours


def test_ping_sockets_from_proc(live):
    from pynetstat.linux.procfs_other import parse_ping

    rows = {}
    for family, name in ((4, "icmp"), (6, "icmp6")):
        rows.update((r.inode, r) for r in parse_ping(live["proc"][name].decode(), name, family))
    expected = account(live, "ping")
    assert set(rows) == {a["inode"] for a in expected} and len(expected) == 2
    for a in expected:
        r = rows[a["inode"]]
        assert (r.family, r.local_address, r.ident, r.uid) == (a["family"], a["local"], a["ident"], a["uid"])
    # no kernel has a sock_diag handler for ping sockets
    assert live["probes"]["ping"] == live["probes"]["ping6"] == errno.ENOENT


def test_probes_and_dump_accounting(live):
    probes = live["probes"]
    assert probes["unix"] is None and probes["packet"] is None
    assert all(v in (None, errno.ENOENT) for v in probes.values()), probes
    messages, malformed, foreign = live["stats"]
    assert (malformed, foreign) == (0, 0)
    assert messages == len(live["unix"]) + len(live["packet"]) + sum(
        len(v) for v in live["raw"].values() if not isinstance(v, int))
