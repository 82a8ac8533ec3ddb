"""Fixtures shared by the test modules: run the CLI (in-process with its environment injected, or
as a subprocess of the launcher), loopback sockets that are closed after the test, and what the
spec says a row and a JSON record look like. Running in-process and reading the table back are
tests/helpers.py's (the one harness, shared with tests/attack)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
LAUNCHER = os.path.join(REPO, "pynetstat")
FIXTURES = os.path.join(TESTS, "fixtures")
sys.path.insert(0, FIXTURES)

from helpers import Result, parse_table, run_inprocess  # noqa: E402, F401  (tests import them from here)

# A shell without job control starts a background job (`.ci/run &`) with SIGINT ignored, and an
# ignored signal stays ignored across exec: every pynetstat the tests start would then ignore
# Ctrl+C, as it should, and the tests of Ctrl+C would see nothing. Handled signals are reset to
# their default action by exec, so handling SIGINT here gives the children a terminal's SIGINT.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_subprocess(argv: list[str], *, env: dict | None = None, timeout: float = 60) -> Result:
    """``python <repo>/pynetstat argv...``: the launcher a fresh checkout offers."""
    p = subprocess.run([sys.executable, LAUNCHER, *argv], capture_output=True, text=True,
                       env=env, timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


# The fast subset (-m smoke) that .ci/run runs on every other Python 3.9-3.13 it finds: every mode
# as a subprocess, the parsers, the recorded kernels, the command line. Marked here, by file, so a
# test added to one of these files is in the subset without a decorator.
SMOKE = {"test_cli.py", "test_modes.py", "test_flags.py", "test_golden.py", "test_sockdiag_decode.py",
         "test_sockdiag_fixtures.py", "test_procfs_parsers.py", "test_stats_parsers.py",
         "test_process_parse.py", "test_interfaces_replay.py", "test_routes_replay.py",
         "test_stats_render.py", "test_json_schema.py", "test_textsafe.py", "test_doctests.py",
         "test_csv_replay.py",
         # a silent DNS server (attack/): before 3.11.4 getnameinfo() held the GIL and -a hung
         "test_resolver.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SMOKE:
            item.add_marker(pytest.mark.smoke)


RUNNERS = {"in-process": run_inprocess, "subprocess": run_subprocess}


@pytest.fixture(params=sorted(RUNNERS))
def run_cli(request):
    """The CLI, run each way in turn: ``run_cli(["-an"]) -> Result``."""
    return RUNNERS[request.param]


# --- what the spec says a row looks like, for a socket the kernel described -------------------

# include/net/tcp_states.h -> the spec's names (the list) and the kernel's own.
SPEC_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECEIVED", 4: "FIN_WAIT_1", 5: "FIN_WAIT_2",
               6: "TIME_WAIT", 7: "CLOSED", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTENING",
               11: "CLOSING"}
KERNEL_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
                 6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
                 11: "CLOSING"}
# Every field of a connection record (docs: the JSON section).
JSON_FIELDS = {"proto", "family", "local_address", "local_port", "remote_address", "remote_port",
               "state", "kernel_state", "interface", "link_local", "ipv4_mapped", "recv_q", "send_q",
               "uid", "inode", "cookie", "pid", "owners", "local_service", "remote_service",
               "remote_host",
               # null unless -d, --timers, --memory, --info asked for them (docs/tcpinfo.md)
               "dscp", "timer", "memory", "tcp_info", "mptcp_info",
               # the other end on this host, with -o/-b (model/peers.py)
               "peer_inode", "peer_pid", "peer_owners"}


def endpoint(address: str, port: int, family: int) -> str:
    return f"{address}:{port}" if family == 4 else f"[{address}]:{port}"


def pid_cell(pids: tuple[int, ...]) -> str:
    """Lowest PID (one integer, whoever else holds it), ``-`` for none."""
    return str(min(pids)) if pids else "-"


def expected_cells(row, with_pid: bool) -> tuple[str, ...]:
    """The table row the spec asks for, for a ``record.Row``."""
    local = endpoint(*row.local, row.family)
    if row.proto == "udp":
        foreign = "*:*" if row.remote[1] == 0 else endpoint(*row.remote, row.family)
        cells = ("UDP", local, foreign, "")
    else:
        cells = ("TCP", local, endpoint(*row.remote, row.family), SPEC_STATES[row.state])
    return cells + (pid_cell(row.pids),) if with_pid else cells


def comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().rstrip("\n")


def expected_record(row, with_owners: bool) -> dict:
    """The fields of a JSON record the kernel's account of ``row`` decides."""
    mapped = any(a.startswith("::ffff:") for a in (row.local[0], row.remote[0]))
    rec = {
        "proto": row.proto + ("6" if row.family == 6 else ""),
        "family": f"ipv{row.family}",
        "local_address": row.local[0], "local_port": row.local[1],
        "remote_address": row.remote[0], "remote_port": row.remote[1],
        "state": SPEC_STATES[row.state] if row.proto == "tcp" else None,
        "kernel_state": KERNEL_STATES[row.state],
        "interface": None, "link_local": False, "ipv4_mapped": mapped,
        "inode": row.inode,
        "pid": row.pids[0] if with_owners and row.pids else None,
        "owners": [{"pid": p, "name": comm(p)} for p in row.pids] if with_owners else None,
        "local_service": None, "remote_service": None, "remote_host": None,
    }
    if row.uid is not None:
        rec["uid"] = row.uid
    if row.cookie is not None:
        rec["cookie"] = row.cookie
    if row.queues is not None:
        rec["recv_q"], rec["send_q"] = row.queues
    return rec


def record_key(rec: dict) -> tuple:
    """A JSON record's ``record.Row.key``."""
    return (rec["proto"].rstrip("6"), 6 if rec["family"] == "ipv6" else 4,
            (rec["local_address"], rec["local_port"]), (rec["remote_address"], rec["remote_port"]))


def cells_key(cells: tuple[str, ...]) -> tuple[str, ...]:
    return cells[:3]


# --- loopback sockets ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loopback_scene():
    """``record.Scene``: loopback sockets in every state pynetstat can show (see
    tests/fixtures/record.py), IPv6 ones where ::1 exists; closed after the module."""
    from record import build_scene

    scene = build_scene()
    yield scene
    scene.close()


@pytest.fixture
def sockets():
    """A list to put sockets in; each is closed after the test."""
    held: list = []
    yield held
    for sock in held:
        sock.close()
