"""Hostile strings: whatever bytes another program chose as its name, executable path, argv,
cgroup path, host name or interface name, the text output holds no control character (C0, DEL,
C1), no invisible reordering character (bidi, zero-width), stays valid UTF-8 and keeps its
columns aligned; JSON stays valid and ASCII, one record per line. docs/escaping.md is the rule.

Three levels: hypothesis over a fake /proc tree read through the whole CLI in-process (any
bytes); a live child that renames itself, runs from a directory with a hostile name and listens
on loopback (pynetstat as a subprocess); and, as root, host names from an /etc/hosts bind-mounted
in a private mount namespace and interface names made in a private network namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import examples
from pynetstat.options import Options
from pynetstat.render.table import ConnectionTable
from pynetstat.resolve import Names
from pynetstat.textsafe import json_text, safe, safe_token

from .check import (
    assert_printable,
    assert_quiet_stderr,
    assert_unicode,
    close_hard,
    command,
    parse_json,
    parse_table,
    run_inprocess,
    run_subprocess,
    subprocess_env,
)
from .kernel import FakeKernel, FakeProc, Sock

HOSTILE = [
    b"\x1b]0;owned\x07", b"\x1b[2J\x1b[31mred", b"line\nbreak\rcr\ttab", b"\xff\xfe\x80bad",
    "\u202eexe.txt".encode(), "zero\u200bwidth\u2066iso\u2069".encode(), "c1\u009bcsi\u0085nel".encode(),
    "wide\u4e2d\u6587\uff21".encode(), "e\u0301\u0301combining".encode(), b"back\\slash\\x1b",
    "nbsp\u00a0ideo\u3000".encode(), "\U000e0041tag".encode(), b"\x7fdel", "\ufeffbom".encode(),
    b" leading and trailing ", b"TCP    6.6.6.6:443            1.2.3.4:1              ESTABLISHED",
]
SETTINGS = settings(max_examples=examples(60), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
no_nul = st.binary(min_size=1, max_size=60).map(lambda b: b.replace(b"\0", b"?"))
hostile = st.one_of(st.sampled_from(HOSTILE), no_nul,
                    st.text(min_size=1, max_size=30).map(lambda t: t.replace("\0", "?").encode(
                        "utf-8", "surrogatepass")))


def world_tmp() -> str:
    d = tempfile.mkdtemp(prefix="pynetstat-hostile-")
    os.chmod(d, 0o755)
    return d


def check_outputs(proc_root, kernel, name_bytes: bytes | None = None) -> None:
    for argv in (["-anob"], ["-anobv"], ["-ano"]):
        result = run_inprocess(argv, proc_root=proc_root, netlink=kernel)
        assert result.status == 0, result
        assert_quiet_stderr(result.err)
        parse_table(result.out, pids=True, owner_lines="b" in argv[0], rows_expected=len(kernel.socks))
    for argv in (["-anobv", "--json"], ["-ano", "--json"]):
        result = run_inprocess(argv, proc_root=proc_root, netlink=kernel)
        assert result.status == 0, result
        doc = parse_json(result.out)
        if name_bytes is not None:
            names = {o["name"] for c in doc["connections"] for o in c["owners"]}
            assert names == {json_text(name_bytes)}, (names, name_bytes)


@SETTINGS
@given(comm=hostile, exe=hostile, argv=st.lists(hostile, max_size=3), cgroup=hostile)
@example(comm=HOSTILE[0], exe=HOSTILE[4], argv=[HOSTILE[2]], cgroup=HOSTILE[1])
def test_any_process_strings_through_the_cli(comm, exe, argv, cgroup):
    comm = comm[:15].replace(b"\n", b"?") or b"x"  # the kernel keeps 15 bytes; comm ends at \n
    d = world_tmp()
    try:
        proc = FakeProc(d)
        socks = [Sock("tcp", 4, 10, "127.0.0.1", 80, inode=9001, cookie=1),
                 Sock("udp", 6, 7, "::1", 53, inode=9002, cookie=2)]
        proc.process(77, comm, exe=b"/" + exe, cmdline=b"\0".join(argv) + b"\0",
                     cgroup=b"0::/" + cgroup.replace(b"\n", b"/") + b".service\n", inodes=[9001, 9002])
        check_outputs(d, FakeKernel(socks), comm)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- the renderer, for any host name and interface name ----------------------------------------

class _Sock:
    """The socket record the renderer reads (pynetstat.model.sockets.InetSocket's fields)."""

    def __init__(self, proto, family, state, local, lport, remote, rport, scope=0):
        self.proto, self.family, self.state = proto, family, state
        self.local_address, self.local_port = local, lport
        self.remote_address, self.remote_port = remote, rport
        self.scope, self.inode = scope, 0


@SETTINGS
@given(st.lists(st.tuples(hostile, hostile), min_size=1, max_size=6))
@example([("\u4e2d\u6587\u4e2d\u6587\u4e2d\u6587\u4e2d\u6587\u4e2d\u6587".encode(), b"v0")])
@example([(("e\u0301" * 12 + ".example").encode(), "\u4e2d".encode() * 9)])
def test_any_host_and_interface_name_in_the_table(names):
    """Host names come from the resolver (PTR records, /etc/hosts); interface names from the
    kernel, which allows any byte in them but '/', ':' and white space."""
    resolver = Names(services_path=os.devnull)
    rows, ifnames = [], {}
    for i, (host, ifname) in enumerate(names):
        remote = f"10.0.0.{i + 1}"
        resolver.hosts[remote] = host.decode("utf-8", "surrogateescape")
        ifnames[i + 1] = ifname.decode("utf-8", "surrogateescape")
        rows.append((_Sock("tcp", 4, 1, "127.0.0.1", 40000 + i, remote, 443), ()))
        rows.append((_Sock("tcp", 6, 10, "fe80::1", 22, "::", 0, scope=i + 1), ()))
    out = _Out()
    table = ConnectionTable(out, Options(all=True, pids=True), resolver, ifnames.__getitem__)
    table.write_rows(rows)
    table.close()
    parse_table(out.text, pids=True, numeric=False)


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s


# --- a live process with hostile strings ------------------------------------------------------

CHILD = textwrap.dedent("""
    import socket, sys, time
    with open("/proc/self/comm", "wb") as f:
        f.write(bytes.fromhex(sys.argv[1]))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    c = socket.create_connection(s.getsockname())
    a, _ = s.accept()
    print(s.getsockname()[1], flush=True)
    time.sleep(60)
""")


@pytest.fixture
def hostile_process():
    """A Python copied into a directory named with ESC, U+202E, a newline and an invalid byte,
    that renames itself (comm) to hostile bytes, with hostile argv, holding three sockets."""
    base = tempfile.mkdtemp(prefix="pynetstat-hostile-")
    exe_dir = os.path.join(os.fsencode(base), b"\x1b[31m\xe2\x80\xaedir\n\xff")
    os.mkdir(exe_dir)
    exe = os.path.join(exe_dir, b"py\x07thon")
    shutil.copy(os.path.realpath(sys.executable), exe)
    comm = b"\x1b]0;x\x07\n\xff\xe2\x80\xae"
    env = dict(os.environ, PYTHONHOME=sys.base_prefix)
    p = subprocess.Popen([exe, "-c", CHILD, comm.hex(), "\x1b[2J", "arg\nwith\u202enl"], env=env,
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        port = int(p.stdout.readline())
        yield p.pid, port, comm, exe
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(base, ignore_errors=True)


def test_live_hostile_process(hostile_process):
    pid, port, comm, exe = hostile_process
    for argv in (["-anob", "-p", "tcp"], ["-anobv", "-p", "tcp"]):
        result = run_subprocess(argv)
        assert result.status == 0, result
        assert_quiet_stderr(result.err)
        parse_table(result.out, pids=True, owner_lines=True)
        assert f" [{safe(os.path.basename(exe))}]" in result.out.splitlines()
        if "v" in argv[0]:
            assert f"  {safe(comm)} ({pid})" in result.out.splitlines()
    result = run_subprocess(["-anobv", "-p", "tcp", "--json"])
    doc = parse_json(result.out)
    mine = [o for c in doc["connections"] for o in c["owners"] if o["pid"] == pid]
    assert len(mine) == 3
    assert mine[0]["name"] == json_text(comm)
    assert mine[0]["exe"] == json_text(os.fsdecode(exe))
    assert mine[0]["cmdline"][-2:] == ["\x1b[2J", "arg\nwith\u202enl"]


# --- host names from /etc/hosts, interface names from the kernel (root) -------------------------

@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_hostile_host_names(tmp_path):
    """/etc/hosts, in a mount namespace of the test's own, names 127.77.0.N with hostile bytes.
    pynetstat -a (no -n) shows them escaped and aligned, and JSON carries them."""
    names = [n for n in HOSTILE if not any(c in n for c in b" \t\n\r#")] + [
        "\u4e2d\u6587.example".encode(), b"very-long-" * 6 + b"x"]
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"127.0.0.1 localhost\n" + b"".join(
        f"127.77.0.{i + 1} ".encode() + n + b"\n" for i, n in enumerate(names)))
    nss = tmp_path / "nsswitch.conf"
    nss.write_text("hosts: files\n")
    os.chmod(tmp_path, 0o755)
    held = []
    try:
        for i in range(len(names)):
            s = socket.socket()
            s.bind((f"127.77.0.{i + 1}", 0))
            s.listen(1)
            c = socket.create_connection(s.getsockname())
            a, _ = s.accept()
            held += [s, c, a]
        for argv in (["-a", "-p", "tcp"], ["-a", "-p", "tcp", "--json"]):
            script = (f"mount --bind {hosts} /etc/hosts && mount --bind {nss} /etc/nsswitch.conf"
                      f" && exec {' '.join(command(argv))}")
            p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                               capture_output=True, timeout=60, env=subprocess_env({"PYNETSTAT_RESOLVE_BUDGET": "5"}))
            out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
            assert p.returncode == 0, err
            assert_quiet_stderr(err)
            if "--json" in argv:
                doc = parse_json(out)
                got = {c["remote_host"] for c in doc["connections"]
                       if c["remote_address"].startswith("127.77.0.")}
                # Python's getnameinfo refuses a name that is not UTF-8 (it stays numeric).
                want = {json_text(n) for n in names if _utf8(n)}
                assert want <= got, (got, want)
            else:
                parse_table(out, pids=False, numeric=False)
                assert_printable(out)
                assert f"{safe(names[0])}:" in out
    finally:
        close_hard(held)


def _utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


NETNS_CHILD = textwrap.dedent("""
    import json, socket, subprocess, sys
    ifname = bytes.fromhex(sys.argv[1])
    index = socket.if_nametoindex(ifname.decode("utf-8", "surrogateescape"))
    s = socket.socket(socket.AF_INET6)
    s.bind(("fe80::1", 0, 0, index))
    s.listen(1)
    for argv in (["-an"], ["-an", "--json"], ["-e", "-v"], ["-r"], ["-rv"], ["-e", "--json"]):
        p = subprocess.run([sys.executable, "-m", "pynetstat", *argv], capture_output=True)
        print(json.dumps([" ".join(argv), p.stdout.hex(), p.stderr.hex(), p.returncode]))
""")


def run_in_netns_with(ifname: bytes, child: str) -> list:
    """Run ``child`` (a script given the name in hex) in a new network namespace that has an
    interface named ``ifname`` holding fe80::1; the JSON lines it prints, decoded."""
    ns = f"pnst-hostile-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        name = os.fsdecode(ifname)
        for cmd in (["link", "add", name, "type", "veth", "peer", "name", "p0"],
                    ["link", "set", "lo", "up"], ["link", "set", name, "up"], ["link", "set", "p0", "up"],
                    ["-6", "addr", "add", "fe80::1/64", "dev", name, "nodad"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", child, ifname.hex()],
                           capture_output=True, timeout=120, env=subprocess_env())
        assert p.returncode == 0, p.stderr
        return [json.loads(line) for line in p.stdout.decode().splitlines()]
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
@pytest.mark.skipif(shutil.which("ip") is None, reason="needs ip(8)")
def test_hostile_interface_name():
    """Linux allows ESC, U+202E and invalid UTF-8 in an interface name. It shows in a link-local
    address (``[fe80::1%name]``), in -e -v and in -r."""
    ifname = b"e\x1b[1m\xe2\x80\xae\xff"
    runs = run_in_netns_with(ifname, NETNS_CHILD)
    assert len(runs) == 6
    # rtnetlink gives the name as bytes and -e, -r keep what is not UTF-8, as the connection
    # table does (issue 21 item 12; before, -e and -r showed U+FFFD for it).
    lossy = safe_token(ifname)
    for argv, out, err, status in runs:
        out, err = bytes.fromhex(out).decode("utf-8"), bytes.fromhex(err).decode("utf-8")
        assert status == 0, (argv, err)
        assert_quiet_stderr(err)
        if "json" in argv:
            parse_json(out) if argv == "-an --json" else assert_unicode(json.loads(out))
            assert out.isascii()
            continue
        assert_printable(out)
        if argv == "-an":
            parse_table(out, pids=False)
            assert f"[fe80::1%{safe_token(ifname)}]:" in out
        else:
            assert lossy in out, (argv, out)


INVALID_UTF8_CHILD = textwrap.dedent("""
    import json, os, socket, subprocess, sys
    ifname = bytes.fromhex(sys.argv[1])
    index = socket.if_nametoindex(os.fsdecode(ifname))
    s = socket.socket(socket.AF_INET6)
    s.bind(("fe80::1", 0, 0, index))
    s.listen(1)
    c_locale = dict(os.environ, LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    for argv, env in ((["-an"], None), (["-an", "--json"], None), (["-an", "--json"], c_locale),
                      (["-e", "-v"], None), (["-e", "--json"], None), (["-r"], None),
                      (["-r", "--json"], None)):
        p = subprocess.run([sys.executable, "-m", "pynetstat", *argv], capture_output=True, env=env)
        print(json.dumps([" ".join(argv) + (" (C locale)" if env else ""), p.stdout.hex(),
                          p.stderr.hex(), p.returncode]))
""")


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
@pytest.mark.skipif(shutil.which("ip") is None, reason="needs ip(8)")
@pytest.mark.parametrize("ifname", [b"\xff\xfe\x9b", "caf\u00e9\xff".encode("utf-8", "surrogateescape")],
                         ids=["invalid", "mixed"])
def test_interface_names_that_are_not_utf8_are_kept(ifname):
    """Issue 21 item 12: an interface name whose bytes are not UTF-8 was shown as U+FFFD in -e and
    -r (``\\xff\\xfe\\x9b`` as three replacement characters, JSON ``"\\ufffd..."``). Like a process
    name, it is escaped losslessly, the same in every view and in any locale."""
    runs = run_in_netns_with(ifname, INVALID_UTF8_CHILD)
    assert len(runs) == 7
    for argv, out, err, status in runs:
        out, err = bytes.fromhex(out).decode("utf-8"), bytes.fromhex(err).decode("utf-8")
        assert status == 0, (argv, err)
        assert_quiet_stderr(err)
        assert "\ufffd" not in out, argv
        if "json" in argv:
            found = set()

            def names(value, found=found):
                if isinstance(value, dict):
                    for key, item in value.items():
                        if key in ("interface", "name") and isinstance(item, str):
                            found.add(item)
                        names(item)
                elif isinstance(value, list):
                    for item in value:
                        names(item)

            names(parse_json(out) if argv.startswith("-an") else json.loads(out))
            assert json_text(ifname) in found, (argv, found)
            assert out.isascii()
        else:
            assert_printable(out)
            assert safe_token(ifname) in out, (argv, out)
