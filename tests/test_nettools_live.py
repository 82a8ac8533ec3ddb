"""The net-tools face against real net-tools (issue 18): for one live scene in a network namespace
the test makes (TCP listeners and connections over IPv4 and IPv6, an IPv4 peer of an IPv6
listener, UDP bound and connected, UNIX stream, datagram and abstract sockets, multicast
memberships on a dummy interface, a route), ``pynetstat --nettools ARGS`` prints the same rows as
``/usr/bin/netstat ARGS`` (net-tools 2.10), column for column, compared as sets of lines (the
order of a kernel dump is not a contract); the headers are the same lines in the same order.

Everything runs in one forked child that leaves the test's network namespace, so both tools see
exactly the scene; it holds the scene's sockets itself, so -p names the same process for both.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from attack.sandbox import CLONE_NEWNET, in_child, unshare  # noqa: E402
from helpers import run_inprocess  # noqa: E402

NETSTAT = "/usr/bin/netstat"
pytestmark = [pytest.mark.root, pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(NETSTAT) or not shutil.which("ip"),
    reason="needs root, ip and net-tools netstat (network namespaces)")]

# The views scripts read (issue 18), and a few more options and combinations.
VIEWS = ("-tulpn", "-an", "-anp", "-tan", "-tanp", "-uan", "-tanpe", "-tlnW", "-ltn4", "-ltn6",
         "-x", "-xa", "-xl", "-xp", "-g", "-gn", "-rn", "-rne", "-i", "-ia", "-ie", "-iea", "-s", "-st",
         "-su", "-s6", "-anw", "-a4n")


# --json views, each beside the net-tools view whose rows it is: -r gives every column -ree shows
JSON_VIEWS = {"-rn": "-rnee", "-i": "-i", "-ia": "-ia", "-gn": "-gn", "-s": "-s", "-st": "-st",
              "-su": "-su", "-s6": "-s6"}


def _scene(workdir: str) -> list:
    """The sockets and links of the scene; the caller keeps the list alive."""
    import socket
    import struct

    def ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("link", "set", "lo", "up")
    try:
        ip("link", "add", "nt0", "type", "dummy")
    except subprocess.CalledProcessError:
        ip("link", "add", "nt0", "type", "veth", "peer", "name", "nt1")
    ip("link", "set", "nt0", "up", "multicast", "on")
    ip("addr", "add", "10.77.0.1/24", "dev", "nt0")
    ip("-6", "addr", "add", "fd77::1/64", "dev", "nt0", "nodad")
    ip("route", "add", "10.78.0.0/16", "via", "10.77.0.2", "dev", "nt0")
    # listener(family, host, kind) and pair(family, server, host), as jc's scene makes them
    from test_jc_netstat import HELPERS

    scope: dict = {}
    exec(HELPERS, scope)
    held, listener, pair = scope["held"], scope["listener"], scope["pair"]

    a4, a6 = socket.AF_INET, socket.AF_INET6
    l4 = listener(a4, "127.0.0.1")
    pair(a4, l4, "127.0.0.1")
    l6 = listener(a6, "::1")
    pair(a6, l6, "::1")
    any6 = listener(a6, "::")
    pair(a4, any6, "127.0.0.1")  # shown as 127.0.0.1 in a tcp6 row (fix_v4_address)
    listener(a4, "0.0.0.0")
    listener(a4, "127.0.0.1", socket.SOCK_DGRAM)
    listener(a6, "::1", socket.SOCK_DGRAM)
    listener(a4, "127.0.0.1", socket.SOCK_DGRAM).connect(("127.0.0.1", 9))
    raw = socket.socket(a4, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    held.append(raw)
    # UNIX: a listener with a path, an accepted connection, a datagram socket, an abstract name
    path = os.path.join(workdir, "nt.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    held += [server, client, server.accept()[0], *socket.socketpair()]
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dgram.bind("\0pynetstat-nettools")
    held.append(dgram)
    # multicast memberships on nt0
    index = socket.if_nametoindex("nt0")
    m4 = socket.socket(a4, socket.SOCK_DGRAM)
    m4.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                  socket.inet_aton("239.7.7.7") + socket.inet_aton("10.77.0.1"))
    m6 = socket.socket(a6, socket.SOCK_DGRAM)
    m6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                  socket.inet_pton(a6, "ff15::77") + struct.pack("@I", index))
    held += [m4, m6]
    return held


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """``{view: (net-tools stdout, pynetstat stdout, pynetstat status)}`` and the jc fields."""
    workdir = str(tmp_path_factory.mktemp("nettools"))

    def run():
        held = _scene(workdir)
        out = {}
        for view in VIEWS:
            theirs = subprocess.run([NETSTAT, view], capture_output=True, text=True,
                                    env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})
            ours = run_inprocess(["--nettools", view], resolve_budget="0.5")
            out[view] = (theirs.stdout, ours.out, ours.status, ours.err)
        for view, reference in JSON_VIEWS.items():
            theirs = subprocess.run([NETSTAT, reference], capture_output=True, text=True,
                                    env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})
            ours = run_inprocess(["--nettools", view, "--json"])
            out[view + " --json"] = (theirs.stdout, ours.out, ours.status, ours.err)
        held.clear()
        return out

    return in_child(run, setup=lambda: unshare(CLONE_NEWNET), timeout=300)


def _counters_masked(text: str) -> str:
    """-i, -ie: the packet counters as ``#`` (IPv6 on the dummy link may send a report between
    the two runs); names, MTU, flags, addresses and the layout stay."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) == 11 and f[1].isdigit():  # -i: Iface MTU 8 counters Flg
            line = re.sub(r"\d+", "#", line[22:-4]).join((line[:22], line[-4:]))
        elif line.startswith(("        RX ", "        TX ")):
            line = re.sub(r"[\d.]+( [KMGTPE]?i?B\))?", "#", line)
        out.append(line)
    return "\n".join(out)


def _split(text: str) -> tuple[list[str], set[str]]:
    """(header lines in order, the set of row lines)."""
    heads, rows = [], set()
    for line in text.splitlines():
        if (line.startswith(("Active ", "Proto ", "Kernel ", "Destination ", "Iface ",
                             "IPv6/IPv4", "Interface ", "-----")) or line.endswith(":")):
            heads.append(line)
        else:
            rows.add(line)
    return heads, rows


@pytest.mark.parametrize("view", [v for v in VIEWS if not v.startswith("-s")])
def test_rows_equal_nettools(outputs, view):
    theirs, ours, status, err = outputs[view]
    assert status == 0, err
    if view.startswith("-i"):
        theirs, ours = _counters_masked(theirs), _counters_masked(ours)
    assert _split(ours) == _split(theirs), f"\n--- netstat {view}\n{theirs}\n--- ours\n{ours}"


@pytest.mark.parametrize("view", [v for v in VIEWS if v.startswith("-s")])
def test_statistics_lines_equal_nettools(outputs, view):
    """-s: the same lines in the same order; a counter that moved between the two runs (the
    scene is quiet, but the kernel's own timers tick) compares by its wording alone."""
    theirs, ours, status, err = outputs[view]
    assert status == 0, err

    def words(text):
        return ["".join("#" if c.isdigit() else c for c in line) for line in text.splitlines()]

    assert words(ours) == words(theirs)


def test_scene_is_in_the_views(outputs):
    """The scene's cases are there (else an empty table would pass the comparisons)."""
    anp = outputs["-anp"][1]
    for needle in ("127.0.0.1:", "::1:", "LISTEN", "ESTABLISHED", "udp6", "raw ",
                   "nt.sock", "@pynetstat-nettools", "ACC"):
        assert needle in anp, needle
    assert re.search(r"LISTEN +\d+/\S", anp), "a PID/Program name cell"
    assert "239.7.7.7" in outputs["-gn"][1] and "ff15::77" in outputs["-gn"][1]
    assert "10.78.0.0" in outputs["-rn"][1]
    assert "nt0" in outputs["-i"][1]


# jc's parser of each view: -ie is ifconfig's long form
JC_PARSERS = {"-tulpn": "netstat", "-an": "netstat", "-anp": "netstat", "-x": "netstat",
              "-xa": "netstat", "-xp": "netstat", "-i": "netstat", "-ie": "ifconfig",
              "-g": "netstat"}


@pytest.mark.parametrize("view", JC_PARSERS)
def test_jc_reads_the_same_fields(outputs, view):
    """jc gives the same records for our output as for net-tools' (jc has no parser of the
    group table: for -g both give nothing, and the rows are compared above)."""
    jc = pytest.importorskip("jc")
    theirs, ours, status, err = outputs[view]
    assert status == 0, err
    if view.startswith("-i"):
        theirs, ours = _counters_masked(theirs).replace("#", "0"), _counters_masked(ours).replace("#", "0")
    parser = JC_PARSERS[view]
    key = json.dumps
    mine = jc.parse(parser, ours)
    assert mine or view == "-g"
    assert sorted(map(key, mine)) == sorted(map(key, jc.parse(parser, theirs)))


def test_jc_route_reads_the_same_fields(outputs):
    jc = pytest.importorskip("jc")
    theirs, ours, status, err = outputs["-rn"]
    assert status == 0, err
    mine = jc.parse("route", ours)
    assert mine and mine == jc.parse("route", theirs)


# --- --json of -r, -i, -g, -s -------------------------------------------------------------------------
COUNTERS = ("rx_ok", "rx_err", "rx_drp", "rx_ovr", "tx_ok", "tx_err", "tx_drp", "tx_ovr")


def _json(outputs, view):
    theirs, ours, status, err = outputs[view + " --json"]
    assert (status, err) == (0, ""), err
    return theirs, json.loads(ours)


def test_route_json_is_what_jc_reads_from_nettools(outputs):
    """-r --json: jc --route's records of net-tools' ``netstat -rnee``, field for field."""
    jc = pytest.importorskip("jc")
    theirs, ours = _json(outputs, "-rn")
    assert ours and ours == jc.parse("route", theirs)
    assert any(r["destination"] == "10.78.0.0" and r["gateway"] == "10.77.0.2" for r in ours)


@pytest.mark.parametrize("view", ["-i", "-ia"])
def test_interface_json_is_what_jc_reads_from_nettools(outputs, view):
    """-i --json: jc --netstat's records of net-tools' ``netstat -i`` (the packet counters may
    move between the two runs: compared as integers, the rest field for field)."""
    jc = pytest.importorskip("jc")
    theirs, ours = _json(outputs, view)
    expected = jc.parse("netstat", theirs)
    assert all(isinstance(r[c], int) for r in ours for c in COUNTERS)

    def fixed(rows):
        return sorted(json.dumps({k: v for k, v in r.items() if k not in COUNTERS}) for r in rows)
    assert ours and fixed(ours) == fixed(expected)
    assert "nt0" in {r["iface"] for r in ours}


def test_group_json_is_the_nettools_rows(outputs):
    theirs, ours = _json(outputs, "-gn")
    rows = sorted((f[0], int(f[1]), f[2]) for f in (line.split() for line in
                                                     theirs.splitlines()[3:]))
    assert sorted((r["interface"], r["refcnt"], r["group"]) for r in ours) == rows
    assert {r["kind"] for r in ours} == {"group"}
    assert {r["network_protocol"] for r in ours if r["group"] == "239.7.7.7"} == {"ipv4"}
    assert {r["network_protocol"] for r in ours if r["group"] == "ff15::77"} == {"ipv6"}


@pytest.mark.parametrize("view", ["-s", "-st", "-su", "-s6"])
def test_statistics_json_has_the_groups_nettools_prints(outputs, view):
    """-s --json: the groups net-tools prints for the same switches, each the kernel's counters
    by name, integers."""
    theirs, ours = _json(outputs, view)
    titles = [line[:-1] for line in theirs.splitlines() if line.endswith(":") and
              not line.startswith(" ")]
    assert list(ours) == titles
    assert all(isinstance(v, int) for group in ours.values() for v in group.values())
    if view == "-st":
        assert ours["Tcp"]["ActiveOpens"] >= 3  # the scene's connections


def _documented(section: str) -> dict[str, str]:
    """``{field: type}`` of the table under ``section`` in docs/nettools.md."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "nettools.md")
    with open(path) as f:
        text = f.read()
    lines = text.split(section, 1)[1].split("\n| field ", 1)[1].splitlines()[2:]
    rows = itertools.takewhile(lambda line: line.startswith("|"), lines)
    return {row.split("|")[1].strip().strip("`"): row.split("|")[2].strip() for row in rows}


TYPES = {"int": int, "string": str, "array of string": list, "int or null": (int, type(None)),
         "string or null": (str, type(None))}


@pytest.mark.parametrize(("view", "section"), [
    ("-rn", "### `-r --json`"), ("-i", "### `-i --json`"), ("-gn", "### `-g --json`")])
def test_json_fields_are_documented(outputs, view, section):
    """docs/nettools.md lists every field of each record, with its type, and no other."""
    documented = _documented(section)
    _theirs, ours = _json(outputs, view)
    assert ours
    for row in ours:
        assert list(row) == list(documented), view
        for field, value in row.items():
            assert isinstance(value, TYPES[documented[field]]), (field, value)


# --- the UNIX table, column for column -----------------------------------------------------------------
UNIX_COLUMNS = ("Proto", "RefCnt", "Flags", "Type", "State", "I-Node", "PID/Program name", "Path")


def unix_columns(text: str) -> dict[int, dict[str, str]]:
    """``{inode: {column: cell}}`` of a UNIX table: Flags is bracketed (it holds blanks), State
    may be blank, the PID/Program name column is there with -p."""
    programs = "PID/Program name" in text
    rows = {}
    for line in text.splitlines():
        if not line.startswith("unix "):
            continue
        head, _, rest = line.partition("]")
        proto, refcnt, flags = head.split(None, 2)
        cells = rest.split()
        state = "" if cells[1].isdigit() else cells[1]
        at = 2 if state == "" else 3
        inode = cells[at - 1]
        program = cells[at] if programs else None
        path = " ".join(cells[at + 1 if programs else at:])
        row = dict(zip(UNIX_COLUMNS, (proto, refcnt, flags + "]", cells[0], state, inode, program,
                                      path)))
        rows[int(inode)] = row
    return rows


@pytest.mark.parametrize("view", ["-x", "-xa", "-xl", "-xp"])
def test_unix_rows_equal_nettools_column_for_column(outputs, view):
    theirs, ours, status, err = outputs[view]
    assert status == 0, err
    mine, expected = unix_columns(ours), unix_columns(theirs)
    assert mine.keys() == expected.keys()
    for inode, row in expected.items():
        for column in UNIX_COLUMNS:
            assert mine[inode][column] == row[column], (view, inode, column)
    scene = [r for r in mine.values() if r["Path"].endswith(("nt.sock", "@pynetstat-nettools"))]
    assert scene or view == "-xl"
