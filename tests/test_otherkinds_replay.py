"""The recording of tests/fixtures/linux/other-kinds (tests/fixtures/record_other.py), replayed:
pynetstat decodes the kernel's recorded replies and parses the recorded /proc files, and the
live test's checks (other_checks.py) hold on them as they did on the live kernel."""

from __future__ import annotations

import errno
import json
import os

import pytest
from other_checks import CHECKS, by_inode
from other_scene import decode_all

from pynetstat.linux.netlink import ReplayNetlink

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "linux", "other-kinds")


def replay() -> dict:
    with open(os.path.join(FIXTURE, "meta.json")) as f:
        meta = json.load(f)
    data = decode_all(ReplayNetlink(os.path.join(FIXTURE, "netlink")))
    data.update(account=meta["account"], ip_link=meta["ip_link"], proc={}, ss={},
                ifnames={int(k): v for k, v in meta["ifnames"].items()},
                meta_probes=meta["probes"], config=meta["config"])
    for name in os.listdir(os.path.join(FIXTURE, "proc", "net")):
        with open(os.path.join(FIXTURE, "proc", "net", name), "rb") as f:
            data["proc"][name] = f.read()
    for name in os.listdir(os.path.join(FIXTURE, "ss")):
        with open(os.path.join(FIXTURE, "ss", name), "rb") as f:
            data["ss"][name.removesuffix(".txt")] = f.read()
    return data


@pytest.fixture(scope="module")
def recorded():
    return replay()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_replay(recorded, check):
    check(recorded)


def test_replayed_probes_are_what_the_kernel_said(recorded):
    assert recorded["probes"] == recorded["meta_probes"]
    # the recording holds the kernel's own error replies: raw_diag missing, in NLMSG_DONE
    if "CONFIG_INET_RAW_DIAG=y" not in recorded["config"]:
        assert recorded["raw"] == {4: errno.ENOENT, 6: errno.ENOENT}


def test_replay_holds_every_kind_of_unix_socket(recorded):
    """The recording is worth keeping only if it shows what the decoders must handle."""
    rows = list(by_inode(recorded["unix"]).values())
    assert {r["type"] for r in rows} == {1, 2, 5}
    assert {r["state"] for r in rows} == {1, 7, 10}
    assert any(r["abstract"] for r in rows) and any(r["abstract"] is False for r in rows)
    assert any(r["icons"] for r in rows) and any(r["vfs"] for r in rows)
    assert any(r["uid"] == 65534 for r in rows)
    packets = recorded["packet"]
    assert any(p["promiscuous"] for p in packets) and any(p["fanout"] for p in packets)
    assert any(p["rx_ring"] for p in packets) and any(p["filter_len"] for p in packets)
