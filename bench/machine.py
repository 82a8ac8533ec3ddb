"""What the machine offers and what it shows: limits, sockets as ss sees them, open files."""

from __future__ import annotations

import resource
import shutil
import subprocess
from pathlib import Path

import fleet

OUR_CLIENTS = " 127.0.1."  # the client ends of our pairs, in an ss address column


def count_tcp_sockets() -> tuple[int, int] | None:
    """(all TCP sockets, our established ones) as ``ss -tan`` lists them; None without ss."""
    lines = ss_lines("-Htan")
    if lines is None:
        return None
    ours = (line for line in lines if line.startswith("ESTAB") and OUR_CLIENTS in line)
    return len(lines), sum(1 for _ in ours)


def count_time_wait() -> int | str:
    """TIME_WAIT sockets of our pairs left behind (SO_LINGER {1, 0} should make it 0)."""
    subnet = fleet.CLIENT_SUBNET
    lines = ss_lines("-Htan", "state", "time-wait", "(", "src", subnet, "or", "dst", subnet, ")")
    return "n/a" if lines is None else len(lines)


def tool_version(tool: str) -> str:
    """``ss -V`` -> "ss utility, iproute2-6.1.0"; ``netstat -V`` -> "net-tools 2.10"."""
    try:
        done = subprocess.run([tool, "-V"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"
    return next(iter((done.stdout + done.stderr).splitlines()), "n/a").strip()


def ss_lines(*args: str) -> list[str] | None:
    if not shutil.which("ss"):
        return None
    done = subprocess.run(["ss", *args], capture_output=True, text=True, timeout=120, check=False)
    return done.stdout.splitlines()


def open_files_on_host() -> str:
    return read_proc("sys/fs/file-nr").split()[0]


def memory_gib() -> float:
    with open("/proc/meminfo") as meminfo:
        kib = int(meminfo.readline().split()[1])  # MemTotal is the first line
    return kib / 2**20


def preflight(largest: int, pairs_per_worker: int) -> tuple[list[str], list[str]]:
    """(what would stop ``largest`` pairs from being set up, what might go wrong)."""
    problems: list[str] = []
    warnings: list[str] = []
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < pairs_per_worker + fleet.FD_MARGIN:
        problems.append(f"RLIMIT_NOFILE hard limit {hard} < {pairs_per_worker} + "
                        f"{fleet.FD_MARGIN}: lower --pairs-per-worker")
    allocated, _, file_max = (int(field) for field in read_proc("sys/fs/file-nr").split())
    if file_max - allocated < 2 * largest + 1000:
        problems.append(f"fs.file-max {file_max} leaves room for only "
                        f"{file_max - allocated} more files, {2 * largest} sockets needed")
    conntrack_max = read_proc("sys/net/netfilter/nf_conntrack_max")
    if conntrack_max and int(conntrack_max) < largest + 1000:
        warnings.append(f"nf_conntrack_max {conntrack_max} < {largest}: if conntrack tracks "
                        "loopback here, connections may be dropped")
    return problems, warnings


def effective_pairs_per_worker(requested: int) -> int:
    """Cap by somaxconn (so an accept queue never overflows) and by the ephemeral port range."""
    somaxconn = int(read_proc("sys/net/core/somaxconn") or requested)
    low, high = (int(port) for port in (read_proc("sys/net/ipv4/ip_local_port_range")
                                        or "32768 60999").split())
    return max(1, min(requested, somaxconn, high - low + 1))


def read_proc(relative: str) -> str:
    try:
        return Path("/proc", relative).read_text().strip()
    except OSError:
        return ""
