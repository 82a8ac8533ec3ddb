"""The extension decoders on a recorded kernel (tests/fixtures/linux/conn-extensions, made by
tests/fixtures/record_extensions.py): two dumps with every extension, and ss's output taken
between them. Every field ss printed must agree with our decoding of the recorded bytes, and
the sockets must show what the recorder did to them (meta.json)."""

from __future__ import annotations

import json
import os
import sys

import pytest
from record_extensions import DUMPS, ext_request
from ss_oracle import NEWER_KEYS, compare, parse_ss, ss_view

from conftest import FIXTURES
from pynetstat.linux import diagext, diagreq
from pynetstat.linux.netlink import DumpStats, ReplayNetlink

HERE = os.path.join(FIXTURES, "linux", "conn-extensions")
with open(os.path.join(HERE, "meta.json")) as _f:
    META = json.load(_f)
pytestmark = pytest.mark.skipif(META["byteorder"] != sys.byteorder,
                                reason="the recordings are in the recording host's byte order")


def replay(sub: str) -> dict:
    source = ReplayNetlink(os.path.join(HERE, sub))
    out = {}
    for family in DUMPS:
        stats = DumpStats()
        for msg in diagreq.iter_messages(source.dump(ext_request(family)), stats, "replay"):
            out[(msg.local, msg.remote)] = (msg, diagext.decode_extensions(msg.attrs))
        assert stats.malformed == 0
    return out


def labelled() -> dict:
    before = replay("netlink")
    return {s["label"]: before[tuple(tuple(end) for end in s["ends"])] + (s,) for s in META["sockets"]}


def test_every_field_ss_printed_agrees_with_the_recorded_dumps():
    with open(os.path.join(HERE, "ss.txt")) as f:
        printed = parse_ss(f.read())
    before, after = replay("netlink"), replay("netlink-after")
    assert len(printed) == 9 and set(printed) <= set(before)
    problems, compared = [], 0
    for key, fields in printed.items():
        views = [ss_view(*reading[key]) for reading in (before, after)]
        problems += [f"{key}: {p}" for p in compare(fields, *views)]
        missing = set(views[0]) & set(views[1]) - set(fields) - NEWER_KEYS
        problems += [f"{key}: ss does not print {name}" for name in sorted(missing)]
        compared += len(fields)
    assert not problems, "\n".join(problems)
    assert compared > 200


def test_the_recorded_sockets_show_what_was_done_to_them():
    socks = labelled()
    msg, ext, facts = socks["client"]
    assert ext.info.length == 280  # Linux 6.18's struct tcp_info, whole
    assert ext.info.bytes_acked > facts["sent"] and ext.info.bytes_received == facts["received"]
    assert (ext.congestion, ext.dscp(ipv4=True)) == ("reno", 46)
    timer = diagext.decode_timer(msg.timer, msg.expires, msg.retrans)
    assert timer.name == "keepalive" and timer.expires_ms <= facts["keepidle_s"] * 1000
    msg, ext, facts = socks["server"]
    assert ext.info.bytes_received == facts["received"] and ext.congestion == "cubic"
    assert socks["client6"][1].dscp(ipv4=False) == 46
    msg, ext, facts = socks["stalled writer"]
    assert ext.info.snd_wnd == 0 and diagext.decode_timer(msg.timer, msg.expires, msg.retrans).name == "persist"
    assert msg.wqueue > 0 and ext.skmeminfo.wmem_queued > 0
    msg, ext, facts = socks["stalled reader"]
    assert msg.rqueue > 0 and ext.info.rcv_wnd == 0
    msg, ext, facts = socks["bound"]
    assert msg.state == 7 and ext.info is None  # TCP_CLOSE, and no tcp_info for it
