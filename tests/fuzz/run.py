"""Coverage-guided fuzzing of every parser of /proc text and netlink bytes (``make fuzz``).

    make fuzz                                   # 60 s, atheris (libFuzzer) when installed
    make fuzz FUZZ_ARGS="-max_total_time=600"   # any libFuzzer flag
    .venv/bin/python tests/fuzz/run.py --stdlib --seconds 30   # no atheris: random mutation

The first byte of an input picks the target (``TARGETS``, in order); the rest is the target's
input. The corpus starts from the recorded fixtures (tests/fixtures/**: /proc files, netlink
recordings, /proc/PID files), each given to the target that reads its kind. A target may raise
``PynetstatError`` (the parsers' documented failure); anything else is a crash. A crashing input
is saved, without its first byte, as ``tests/fixtures/fuzz/<target>/crash-<sha1>``, which
``tests/attack/test_parsers_property.py::test_fuzz_crash_inputs`` replays from then on.

Without atheris (it needs a wheel for this Python, or clang to build), ``--stdlib`` runs a
bounded random-mutation fuzzer over the same targets and seeds: not coverage-guided, but the
same checks.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures"
CRASHES = FIXTURES / "fuzz"
sys.path.insert(0, str(TESTS.parent / "src"))
sys.path.insert(0, str(TESTS))


def _import_targets():
    """Import the parsers (inside atheris.instrument_imports() when fuzzing with atheris)."""
    from pynetstat.errors import PynetstatError
    from pynetstat.linux import netlink, process, procfs, rtnetlink, snmp, sockdiag
    from pynetstat.resolve import parse_services
    return PynetstatError, netlink, procfs, process, rtnetlink, snmp, sockdiag, parse_services


(PynetstatError, netlink, procfs, process, rtnetlink, snmp, sockdiag,
 parse_services) = (None,) * 8


def _text(data: bytes) -> str:
    return data.decode("ascii", "replace")  # as ProcFS.read_text decodes /proc files


def _recording(data: bytes):
    seq, chunks = netlink.read_recording(data)
    return netlink.Reply(seq, iter(chunks))


def t_proc_net(data: bytes) -> None:
    if not data:
        return
    proto, family = [("tcp", 4), ("tcp", 6), ("udp", 4), ("udp", 6)][data[0] % 4]
    errors: list = []
    for s in procfs.parse_inet_file(_text(data[1:]), "/proc/net/x", proto, family, errors,
                                    "big" if data[0] & 4 else "little"):
        assert 0 <= s.local_port <= 0xFFFF and 0 <= s.remote_port <= 0xFFFF and 0 <= s.state <= 0xFF
        assert s.inode >= 0 and s.recv_q >= 0 and s.send_q >= 0
        assert s.uid is None or s.uid >= 0  # None: a TIME_WAIT or request socket


def t_sock_diag(data: bytes) -> None:
    family = 6 if data and data[0] & 1 else 4
    for batch in sockdiag.decode_batches(_recording(data[1:]), "tcp", family, netlink.DumpStats()):
        for s in batch.sockets():
            assert 0 <= s.local_port <= 0xFFFF and s.family == family


def t_rtnl_link(data: bytes) -> None:
    for link in rtnetlink.decode_links(_recording(data), netlink.DumpStats()):
        assert isinstance(link.name, str)


def t_rtnl_route(data: bytes) -> None:
    family = 6 if data and data[0] & 1 else 4
    for route in rtnetlink.decode_routes(_recording(data[1:]), family, {1: "lo"}, netlink.DumpStats()):
        assert 0 <= route.prefix_len <= (32 if family == 4 else 128)
        route.netmask  # noqa: B018 - drawing the netmask is what -r does with it


def t_messages(data: bytes) -> None:
    stats = netlink.DumpStats()
    try:
        for _mtype, off, length in netlink.iter_messages(data, 0, stats, "fuzz"):
            assert off + length <= len(data)
    except netlink.DumpDone:
        pass
    attrs = netlink.parse_attrs(data, 0, len(data))
    assert all(off + n <= len(data) for off, n in attrs.values())


def _proc_text(parse):
    """A parser of /proc text, and what the views then do with its records."""
    def target(data: bytes) -> None:
        result = parse(_text(data), "/proc/fuzz")
        if isinstance(result, dict):
            from pynetstat.model.stats import monotonic_counters

            monotonic_counters(result)
            return
        for item in result:
            if hasattr(item, "prefix_len"):  # a Route: -r draws its netmask
                assert 0 <= item.prefix_len <= (32 if item.family == 4 else 128)
                item.netmask  # noqa: B018
    return target


def _build_targets() -> dict:
    return {
        "proc_net": t_proc_net,
        "sock_diag": t_sock_diag,
        "rtnl_link": t_rtnl_link,
        "rtnl_route": t_rtnl_route,
        "messages": t_messages,
        "snmp": _proc_text(snmp.parse_paired),
        "snmp6": _proc_text(snmp.parse_snmp6),
        "dev": _proc_text(rtnetlink.parse_proc_dev),
        "route": _proc_text(rtnetlink.parse_proc_route),
        "ipv6_route": _proc_text(rtnetlink.parse_proc_ipv6_route),
        "stat": lambda d: process.parse_stat(d),
        "status": lambda d: process.parse_status_uid(d),
        "cmdline": lambda d: process.parse_cmdline(d),
        "cgroup": lambda d: process.parse_cgroup(d),
        "services": lambda d: parse_services(d.decode("utf-8", "replace")),
        "recording": lambda d: netlink.read_recording(d),
    }


TARGETS: dict = {}


def load(instrument=None) -> None:
    global PynetstatError, netlink, procfs, process, rtnetlink, snmp, sockdiag, parse_services
    if instrument is not None:
        with instrument():
            mods = _import_targets()
    else:
        mods = _import_targets()
    (PynetstatError, netlink, procfs, process, rtnetlink, snmp, sockdiag, parse_services) = mods
    TARGETS.update(_build_targets())


def run_one(name: str, data: bytes) -> None:
    """One input for one target: PynetstatError is an answer, anything else a crash."""
    with suppress(PynetstatError):
        TARGETS[name](data)


def dispatch(data: bytes) -> None:
    if not data:
        return
    names = list(TARGETS)
    run_one(names[data[0] % len(names)], data[1:])


# --- seeds from the fixtures -----------------------------------------------------------------

def _kind(path: Path) -> tuple[str, bytes] | None:
    """(target, prefix) for a fixture file, or None when no parser reads its kind."""
    name, parent = path.name, path.parent.name
    if name in ("tcp", "tcp6", "udp", "udp6") and parent == "net":
        return "proc_net", bytes([["tcp", "tcp6", "udp", "udp6"].index(name)])
    if name.startswith("sock_diag-") and name.endswith(".nl"):
        return "sock_diag", b"\x01" if "6" in name else b"\x00"
    if name == "rtnl-link.nl":
        return "rtnl_link", b""
    if name.startswith("rtnl-route") and name.endswith(".nl"):
        return "rtnl_route", b"\x01" if "6" in name else b"\x00"
    table = {"snmp": "snmp", "netstat": "snmp", "snmp6": "snmp6", "dev": "dev", "route": "route",
             "ipv6_route": "ipv6_route", "stat": "stat", "status": "status", "cmdline": "cmdline",
             "cgroup": "cgroup"}
    if name in table:
        return table[name], b""
    if name.endswith(".stat"):
        return "stat", b""
    if name.endswith(".cgroup"):
        return "cgroup", b""
    return None


def seeds() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(FIXTURES.rglob("*")):
        if not path.is_file() or path.is_symlink() or CRASHES in path.parents:
            continue
        kind = _kind(path)
        if kind is not None:
            out.append((kind[0], kind[1] + path.read_bytes()[:200_000]))
    for path in sorted(CRASHES.glob("*/*")) if CRASHES.exists() else []:
        out.append((path.parent.name, path.read_bytes()))
    return out


def save_crash(name: str, data: bytes) -> Path:
    d = CRASHES / name
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"crash-{hashlib.sha1(data).hexdigest()[:16]}"
    path.write_bytes(data)
    return path


# --- without atheris: random mutation ---------------------------------------------------------

def stdlib_fuzz(seconds: float, seed: int) -> int:
    from attack.kernel import garble  # the attack suite's damaged kernel buffers

    rng = random.Random(seed)
    corpus = seeds()
    execs = crashes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        name, data = rng.choice(corpus)
        case = garble([data], rng)[0]
        execs += 1
        try:
            run_one(name, case)
        except Exception as e:  # noqa: BLE001 - any exception but PynetstatError is the finding
            crashes += 1
            path = save_crash(name, case)
            print(f"CRASH {name}: {type(e).__name__}: {e} -> {path}", flush=True)
    print(f"stdlib fuzzer: {execs} executions in {seconds:.0f} s over {len(TARGETS)} targets, "
          f"{len(corpus)} seeds, {crashes} crash(es)")
    return 1 if crashes else 0


# --- with atheris --------------------------------------------------------------------------

def atheris_fuzz(argv: list[str]) -> int:
    import atheris

    load(atheris.instrument_imports)
    # One working directory, made afresh each run: libFuzzer leaves through C exit(), so no
    # Python clean-up would run at the end.
    work = Path(tempfile.gettempdir()) / "pynetstat-fuzz"
    shutil.rmtree(work, ignore_errors=True)
    corpus = work / "corpus"
    corpus.mkdir(parents=True)
    names = list(TARGETS)
    for i, (name, data) in enumerate(seeds()):
        (corpus / f"seed-{i:04d}").write_bytes(bytes([names.index(name)]) + data)
    flags = [a for a in argv if a.startswith("-")]
    if not any(f.startswith("-max_total_time") for f in flags):
        flags.append("-max_total_time=60")
    flags += [f"-artifact_prefix={work}/", "-max_len=262144", "-rss_limit_mb=4096"]
    print(f"atheris: {len(names)} targets, corpus {corpus}, flags {' '.join(flags)}", flush=True)

    def one_input(data: bytes) -> None:
        try:
            dispatch(data)
        except Exception:
            # Saved here, before atheris reports it and libFuzzer exits (no atexit runs then).
            if data:
                path = save_crash(names[data[0] % len(names)], data[1:])
                print(f"crashing input saved as {path}", flush=True)
            raise

    atheris.Setup([sys.argv[0], *flags, str(corpus)], one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str]) -> int:
    if "--stdlib" in argv or os.environ.get("PYNETSTAT_FUZZ") == "stdlib":
        seconds = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else 60.0
        seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else int(time.time())
        load()
        return stdlib_fuzz(seconds, seed)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install atheris: a wheel exists for CPython "
              "3.8-3.11 on x86_64 Linux; other setups need clang); using the stdlib fuzzer",
              flush=True)
        load()
        return stdlib_fuzz(60.0, int(time.time()))
    return atheris_fuzz(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
else:
    load()
