"""iproute2's ss as an independent oracle: for the sockets this module opens, pynetstat lists the
same (proto, local, remote, state) as `ss -tuan`, socket for socket."""

from __future__ import annotations

import collections
import shutil
import subprocess

import pytest

from conftest import record_key, run_inprocess

pytestmark = pytest.mark.skipif(shutil.which("ss") is None, reason="iproute2's ss is not installed")

# ss's state names (misc/ss.c, sstate_name) -> (the kernel's name, the spec's name)
SS_STATES = {
    "ESTAB": ("ESTABLISHED", "ESTABLISHED"), "SYN-SENT": ("SYN_SENT", "SYN_SENT"),
    "SYN-RECV": ("SYN_RECV", "SYN_RECEIVED"), "FIN-WAIT-1": ("FIN_WAIT1", "FIN_WAIT_1"),
    "FIN-WAIT-2": ("FIN_WAIT2", "FIN_WAIT_2"), "TIME-WAIT": ("TIME_WAIT", "TIME_WAIT"),
    "UNCONN": ("CLOSE", "CLOSED"), "CLOSE-WAIT": ("CLOSE_WAIT", "CLOSE_WAIT"),
    "LAST-ACK": ("LAST_ACK", "LAST_ACK"), "LISTEN": ("LISTEN", "LISTENING"),
    "CLOSING": ("CLOSING", "CLOSING"),
}
KERNEL_TO_SPEC = dict(SS_STATES.values())


def ss_endpoint(text: str, family: int | None) -> tuple[int, tuple[str, int]]:
    """``"[::1]:22" -> (6, ("::1", 22))``; ``"*:*"`` is the wildcard of ``family``."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if host == "*":
        host = "0.0.0.0" if family == 4 else "::"
    elif family is None:
        family = 6 if ":" in host else 4
    return family, (host.split("%")[0], 0 if port == "*" else int(port))


def ss_rows(*flags: str) -> list[tuple]:
    """``ss -nH flags`` (with both -t and -u, so that the Netid column is there) as ``(key, kernel state, spec state)``, key as ``record.Row.key``."""
    out = subprocess.run(["ss", "-nH", *flags], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        netid, state, _rq, _sq, local, peer = line.split()[:6]
        family, local_ep = ss_endpoint(local, None)
        _, peer_ep = ss_endpoint(peer, family)
        rows.append(((netid, family, local_ep, peer_ep), *SS_STATES[state]))
    return rows


def pynetstat_rows(*argv: str) -> list[tuple]:
    result = run_inprocess([*argv, "--json"])
    assert result.status == 0, result
    rows = []
    for rec in result.json()["connections"]:
        spec = rec["state"]
        if spec is None:  # UDP: no state in the spec's table; the kernel's, named as ss would
            spec = KERNEL_TO_SPEC[rec["kernel_state"]]
        rows.append((record_key(rec), rec["kernel_state"], spec))
    return rows


def restricted(rows: list[tuple], keys: set) -> collections.Counter:
    return collections.Counter(row for row in rows if row[0] in keys)


def test_every_socket_as_ss_sees_it(loopback_scene):
    keys = {r.key for r in loopback_scene.rows()}
    theirs = restricted(ss_rows("-tua"), keys)
    mine = restricted(pynetstat_rows("-an"), keys)
    assert {row[0] for row in theirs} == keys  # ss sees every socket of the scene
    assert mine == theirs


def test_default_view_as_ss_sees_it(loopback_scene):
    """Without -a: ss's non-listening TCP sockets (ss itself hides TIME-WAIT and SYN-RECV by
    default, so it is asked for every state and the listeners are dropped here)."""
    keys = {r.key for r in loopback_scene.rows()}
    theirs = collections.Counter(row for row in restricted(ss_rows("-tua"), keys).elements()
                                 if row[0][0] == "tcp" and row[1] != "LISTEN")
    mine = restricted(pynetstat_rows("-n"), keys)
    assert len(mine) >= 10
    assert mine == theirs
