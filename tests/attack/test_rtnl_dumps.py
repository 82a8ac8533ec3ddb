"""Route and link dumps lose nothing without a word (issue 21 item 3).

The kernel double (``kernel.FakeKernel``) replays recorded RTM_GETLINK / RTM_GETROUTE dumps and
misbehaves on request: a dump cut off between two messages (no NLMSG_DONE), cut inside one, or
flagged NLM_F_DUMP_INTR (the table changed while it was walked, net/core/rtnetlink.c). Each is
accounted as the socket dumps are: a dump that ends without NLMSG_DONE is not used (the /proc
file is read instead), dropped messages are said, and an interrupted dump is asked again (up to
3 times) before it is used, then said.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from pathlib import Path

import pytest

from .check import assert_quiet_stderr, run_inprocess
from .kernel import NLM_F_DUMP_INTR, NLMSG_DONE, FakeKernel, FakeProc


@pytest.fixture
def tree():
    d = tempfile.mkdtemp(prefix="pynetstat-rtnl-")
    yield FakeProc(Path(d))
    shutil.rmtree(d, ignore_errors=True)


def split(chunks: list[bytes]) -> list[bytes]:
    """Every message of a reply, framed as the kernel sent it."""
    out = []
    for chunk in chunks:
        off = 0
        while off + 16 <= len(chunk):
            length = struct.unpack_from("=I", chunk, off)[0]
            out.append(chunk[off:off + ((length + 3) & ~3)])
            off += (length + 3) & ~3
    return out


def is_done(msg: bytes) -> bool:
    return struct.unpack_from("=H", msg, 4)[0] == NLMSG_DONE


def flag_intr(msg: bytes) -> bytes:
    b = bytearray(msg)
    struct.pack_into("=H", b, 6, struct.unpack_from("=H", b, 6)[0] | NLM_F_DUMP_INTR)
    return bytes(b)


def run(argv, tree, kernel):
    result = run_inprocess(argv, proc_root=tree.root, netlink=kernel)
    assert_quiet_stderr(result.err)
    assert result.status == 0, result
    return result


@pytest.mark.parametrize("key,argv", [("rtnl-route4", ["-r", "--json"]),
                                      ("rtnl-link", ["-e", "--json"])])
def test_dump_cut_between_messages_is_not_taken_as_whole(tree, key, argv):
    """The reply stops after its first message, without NLMSG_DONE: nothing in the bytes says
    what is missing, so the dump is not used; the /proc file gives the table instead."""
    def fault(k, chunks, seq):
        return split(chunks)[:1] if k == key else chunks

    doc = json.loads(run(argv, tree, FakeKernel(fault=fault)).out)
    if key == "rtnl-link":
        assert doc["interfaces"]["source"] == "procfs"
        assert "without NLMSG_DONE" in doc["interfaces"]["fallback_reason"]
        assert [i["name"] for i in doc["interfaces"]["interfaces"]] == ["lo", "ifb0", "ifb1", "eth0"]
    else:
        assert doc["routes"]["source"]["4"] == "procfs"
        assert "without NLMSG_DONE" in doc["routes"]["fallback_reasons"]["4"]
        # /proc/net/route of the recorded host: the default route and 192.0.2.0/24
        assert [r["destination"] for r in doc["routes"]["ipv4_routes"]] == ["0.0.0.0", "192.0.2.0"]


@pytest.mark.parametrize("key,argv", [("rtnl-route4", ["-r"]), ("rtnl-route6", ["-r"]),
                                      ("rtnl-link", ["-e"]), ("rtnl-link", ["-r"])])
def test_dump_cut_inside_a_message_is_said(tree, key, argv):
    def fault(k, chunks, seq):
        if k != key:
            return chunks
        msgs = split(chunks)
        return [b"".join(msgs[:2]) + msgs[2][:20]]  # the third message cut after 20 bytes

    result = run(argv, tree, FakeKernel(fault=fault))
    said = [line for line in result.err.splitlines() if "malformed netlink" in line]
    assert len(said) == 1, result.err


@pytest.mark.parametrize("key,argv", [("rtnl-route4", ["-r"]), ("rtnl-route6", ["-rv"]),
                                      ("rtnl-link", ["-e"])])
@pytest.mark.parametrize("times", [1, 3])
def test_interrupted_dump_is_asked_again(tree, key, argv, times):
    """NLM_F_DUMP_INTR on the first ``times`` answers: the dump is asked again and the answer
    that was not interrupted is used, silently."""
    asked = []

    def fault(k, chunks, seq):
        if k != key:
            return chunks
        asked.append(seq)
        if len(asked) > times:
            return chunks
        return [flag_intr(m) if not is_done(m) else m for m in split(chunks)]

    kernel = FakeKernel(fault=fault)
    clean = run(argv, tree, FakeKernel())
    result = run(argv, tree, kernel)
    assert len(asked) == times + 1
    assert result.out == clean.out
    assert result.err == clean.err == ""


@pytest.mark.parametrize("key,argv", [("rtnl-route4", ["-r"]), ("rtnl-route4", ["-r", "--json"]),
                                      ("rtnl-link", ["-e"]), ("rtnl-link", ["-er"])])
def test_dump_interrupted_every_time_is_said(tree, key, argv):
    asked = []

    def fault(k, chunks, seq):
        if k != key:
            return chunks
        asked.append(seq)
        return [flag_intr(m) if not is_done(m) else m for m in split(chunks)]

    result = run(argv, tree, FakeKernel(fault=fault))
    assert len(asked) == 4 * (2 if argv == ["-er"] else 1)  # -er reads the interfaces twice
    said = [line for line in result.err.splitlines() if "NLM_F_DUMP_INTR" in line]
    assert len(said) == 1, result.err
