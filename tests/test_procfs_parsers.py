"""The /proc/net/{tcp,udp}[6] parsers: addresses in both byte orders (checked against the live
kernel for this host's), lines from the recorded fixtures, and malformed lines, which are
counted as ParseError naming file and line, never raised, also through the whole CLI."""

from __future__ import annotations

import os
import shutil
import socket
import sys

import pytest

from conftest import FIXTURES, run_inprocess
from pynetstat.errors import ParseError
from pynetstat.linux.netlink import ReplayNetlink
from pynetstat.linux.procfs import decode_address, parse_inet_file, parse_inet_line

NORMAL = os.path.join(FIXTURES, "linux", "conn-normal", "proc", "net")


def swap_words(field: str) -> str:
    """The same ``ADDR:PORT`` as the other byte order's kernel prints it: each 32-bit word's
    bytes reversed (the kernel prints ``__be32`` words with ``%08X``)."""
    hexaddr, port = field.split(":")
    words = [hexaddr[i : i + 8] for i in range(0, len(hexaddr), 8)]
    return "".join("".join(reversed([w[j : j + 2] for j in range(0, 8, 2)])) for w in words) + ":" + port


# (as a little-endian host prints it, address, port); the big-endian form is swap_words of it.
EXAMPLES = [
    ("0100007F:0016", "127.0.0.1", 22),
    ("00000000:0000", "0.0.0.0", 0),
    ("0500000A:FFFF", "10.0.0.5", 65535),
    ("00000000000000000000000001000000:0035", "::1", 53),
    ("00000000000000000000000000000000:0000", "::", 0),
    ("0000000000000000FFFF00000100007F:B26F", "::ffff:127.0.0.1", 0xB26F),  # from conn-normal
    ("000080FE00000000FF00FC00010000FE:0016", "fe80::fc:ff:fe00:1", 22),  # link-local
]


@pytest.mark.parametrize(("field", "address", "port"), EXAMPLES)
def test_decode_address_little_endian(field, address, port):
    assert decode_address(field, "little") == (address, port)


@pytest.mark.parametrize(("field", "address", "port"), EXAMPLES)
def test_decode_address_big_endian(field, address, port):
    assert decode_address(swap_words(field), "big") == (address, port)


def test_big_endian_form_of_loopback():
    assert swap_words("0100007F:0016") == "7F000001:0016"
    assert decode_address("7F000001:0016", "big") == ("127.0.0.1", 22)


@pytest.mark.parametrize("field", ["0100007F", "0100007F:16", "0100007F:00016", "ZZ00007F:0016",
                                   "0100007:0016", "01000000000000:0016", ":0016", "0100007F:GGGG"])
def test_decode_address_rejects_malformed_fields(field):
    with pytest.raises(ValueError):
        decode_address(field)


def proc_line(path: str, inode: int) -> list[str]:
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) > 9 and fields[9] == str(inode):
                return fields
    raise LookupError(inode)


@pytest.mark.parametrize(("family", "host", "name"), [(socket.AF_INET, "127.0.0.1", "tcp"),
                                                      (socket.AF_INET6, "::1", "tcp6")])
def test_decode_address_reads_this_kernel(sockets, family, host, name):
    """This host's kernel prints our listener's endpoints so that decode_address, told this
    host's byte order, gives back what getsockname says."""
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((host, 0))
    except OSError:
        pytest.skip(f"cannot bind {host}")
    sockets.append(s)
    s.listen(1)
    fields = proc_line(f"/proc/net/{name}", os.fstat(s.fileno()).st_ino)
    assert decode_address(fields[1], sys.byteorder) == s.getsockname()[:2]
    sock = parse_inet_line(" ".join(fields), "tcp", 4 if family == socket.AF_INET else 6, sys.byteorder)
    assert (sock.local_address, sock.local_port, sock.state) == (*s.getsockname()[:2], 10)


def fixture_lines(name: str) -> list[str]:
    with open(os.path.join(NORMAL, name)) as f:
        return f.read().splitlines()


def test_parse_inet_line_listener():
    line = next(line for line in fixture_lines("tcp") if " 0A " in line)
    fields = line.split()
    sock = parse_inet_line(line, "tcp", 4)
    assert (sock.proto, sock.family, sock.state) == ("tcp", 4, 10)
    assert (sock.local_address, sock.local_port) == ("127.0.0.1", int(fields[1][-4:], 16))
    assert (sock.remote_address, sock.remote_port) == ("0.0.0.0", 0)
    assert (sock.inode, sock.uid, sock.cookie, sock.scope) == (int(fields[9]), 0, None, 0)
    assert (sock.send_q, sock.recv_q) == (int(fields[4][:8], 16), int(fields[4][9:], 16))


def test_parse_inet_line_time_wait_has_fewer_fields():
    line = next(line for line in fixture_lines("tcp") if " 06 " in line)
    assert len(line.split()) == 12
    sock = parse_inet_line(line, "tcp", 4)
    assert (sock.state, sock.inode, sock.uid) == (6, 0, None)  # TIME_WAIT keeps no uid


def test_parse_inet_line_udp6():
    line = next(line for line in fixture_lines("udp6") if " 01 " in line)
    sock = parse_inet_line(line, "udp", 6)
    assert (sock.proto, sock.family, sock.local_address, sock.remote_address) == ("udp", 6, "::1", "::1")
    assert sock.remote_port and sock.inode


def test_parse_inet_line_rejects_the_wrong_family():
    with pytest.raises(ValueError):
        parse_inet_line(fixture_lines("tcp")[1], "tcp", 6)
    with pytest.raises(ValueError):
        parse_inet_line(fixture_lines("tcp6")[1], "tcp", 4)


BAD_LINES = [
    "garbage",
    "   7: 0100007F:0016",  # cut short
    "   7: ZZ00007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1065 1",
    "   7 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1065 1",
    "   7: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x1065 1",
    "   7: 0100007F:0016 00000000:0000 0Q 00000000:00000000 00:00000000 00000000 0 0 1065 1",
]


def test_malformed_lines_are_counted_not_raised():
    lines = fixture_lines("tcp")
    text = "\n".join([lines[0], lines[1], *BAD_LINES, lines[2], ""])
    errors: list = []
    socks = list(parse_inet_file(text, "/x/net/tcp", "tcp", 4, errors))
    assert [s.inode for s in socks] == [int(lines[1].split()[9]), int(lines[2].split()[9])]
    assert [type(e) for e in errors] == [ParseError] * len(BAD_LINES)
    assert [(e.path, e.line_no, e.line) for e in errors] == [
        ("/x/net/tcp", 3 + i, line) for i, line in enumerate(BAD_LINES)]
    assert str(errors[0]).startswith("/x/net/tcp:3: ")


def test_header_only_and_blank_lines():
    errors: list = []
    assert list(parse_inet_file(fixture_lines("udp")[0] + "\n\n\n", "p", "udp", 4, errors)) == []
    assert errors == []


def proc_copy(tmp_path, edit) -> str:
    """A copy of conn-normal's /proc tree with ``edit(lines)`` applied to net/tcp."""
    root = tmp_path / "proc"
    shutil.copytree(os.path.dirname(NORMAL), root)
    lines = fixture_lines("tcp")
    edit(lines)
    (root / "net" / "tcp").write_text("\n".join(lines) + "\n")
    return str(root)


def only_proc(root: str, *argv: str):
    """pynetstat on a /proc tree, with a netlink source that has no recordings: /proc for all."""
    return run_inprocess(list(argv), environ={}, proc_root=root,
                         netlink_factory=lambda: ReplayNetlink(os.path.join(root, "no-recordings")))


def test_malformed_line_through_the_cli(tmp_path):
    root = proc_copy(tmp_path, lambda lines: lines.insert(3, BAD_LINES[2]))
    text = only_proc(root, "-an")
    assert text.status == 0
    notes = text.stderr.splitlines()
    assert len(notes) == 1
    assert notes[0].startswith(f"pynetstat: skipped 1 malformed line(s), first: {root}/net/tcp:4: ")
    doc = only_proc(root, "-an", "--json")
    assert len(doc.json()["parse_errors"]) == 1
    assert doc.json()["parse_errors"][0].startswith(f"{root}/net/tcp:4: ")
    assert doc.json()["sources"] == {"tcp": "proc", "tcp6": "proc", "udp": "proc", "udp6": "proc"}
    assert len(doc.json()["connections"]) == sum(len(fixture_lines(n)) - 1 for n in ("tcp", "tcp6", "udp", "udp6"))


def test_unknown_state_is_printed_as_such(tmp_path):
    """A state code no table knows (14, one past TCP_BOUND_INACTIVE, written over a real
    ESTABLISHED line): a newer kernel's state is shown, not dropped and not a crash."""
    def edit(lines):
        i = next(i for i, line in enumerate(lines) if " 01 " in line)
        lines[i] = lines[i].replace(" 01 ", " 0E ", 1)
    root = proc_copy(tmp_path, edit)
    text = only_proc(root, "-an")
    assert text.status == 0 and text.stderr == ""
    assert sum("UNKNOWN(14)" in line for line in text.stdout.splitlines()) == 1
    recs = [r for r in only_proc(root, "-an", "--json").json()["connections"] if r["state"] == "UNKNOWN(14)"]
    assert len(recs) == 1 and recs[0]["kernel_state"] == "UNKNOWN(14)"


@pytest.mark.parametrize("code", [0x20, 0xFF])
@pytest.mark.parametrize("argv", [["-an"], ["-n"]])
def test_a_state_past_the_masks_bits_is_shown(tmp_path, code, argv):
    """sk_state is a u8, the state mask 32 bits: a code of 32 or more (a newer kernel's, or a
    forged file's) is in no mask, and was dropped without a word. Every row is shown."""
    def edit(lines):
        i = next(i for i, line in enumerate(lines) if " 01 " in line)
        lines[i] = lines[i].replace(" 01 ", f" {code:02X} ", 1)
    root = proc_copy(tmp_path, edit)
    text = only_proc(root, *argv)
    assert text.status == 0 and text.stderr == ""
    assert sum(f"UNKNOWN({code})" in line for line in text.stdout.splitlines()) == 1
    recs = [r for r in only_proc(root, *argv, "--json").json()["connections"]
            if r["kernel_state"] == f"UNKNOWN({code})"]
    assert len(recs) == 1 and recs[0]["state"] == f"UNKNOWN({code})"


def _big_endian_address(field: str) -> str:
    """``ADDR:PORT`` as a big-endian kernel prints it: each 4-byte word in the other order."""
    hexaddr, _, port = field.partition(":")
    words = [hexaddr[i : i + 8] for i in range(0, len(hexaddr), 8)]
    return "".join(bytes.fromhex(w)[::-1].hex().upper() for w in words) + ":" + port


def test_the_fallback_reads_addresses_in_the_hosts_byte_order(tmp_path, monkeypatch):
    """The recorded /proc files (a little-endian kernel) and the same sockets as a big-endian
    kernel prints them, each read on a host of that order, give the same rows."""
    from pynetstat.linux import procfs

    little = tmp_path / "little"
    shutil.copytree(os.path.dirname(NORMAL), little)
    big = tmp_path / "big"
    shutil.copytree(os.path.dirname(NORMAL), big)
    for name in ("tcp", "tcp6", "udp", "udp6"):
        lines = (little / "net" / name).read_text().splitlines()
        out = [lines[0]]
        for line in lines[1:]:
            f = line.split(" ")
            at = [i for i, x in enumerate(f) if x][1:3]  # the two ADDR:PORT fields
            for i in at:
                f[i] = _big_endian_address(f[i])
            out.append(" ".join(f))
        assert out != lines
        (big / "net" / name).write_text("\n".join(out) + "\n")
    monkeypatch.setattr(procfs, "HOST_BYTEORDER", "little", raising=False)
    want = only_proc(str(little), "-an", "--json").json()["connections"]
    monkeypatch.setattr(procfs, "HOST_BYTEORDER", "big", raising=False)
    got = only_proc(str(big), "-an", "--json").json()["connections"]
    assert got == want and len(want) > 10
    assert {r["local_address"] for r in got} >= {"127.0.0.1", "::1"}
