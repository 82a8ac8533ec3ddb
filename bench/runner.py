"""Run one command with a timeout and measure its wall time and peak RSS.

Why GNU time for the RSS: ``wait4()``'s ``ru_maxrss`` is not the child's alone. At exec the
kernel folds the *old* mm's high-water mark into the process's maxrss (fs/exec.c, exec_mmap ->
setmax_mm_hiwater_rss); after fork() that old mm is a copy of the bench's Python, after vfork() /
posix_spawn() it *is* the bench's. So a 3 MiB ``ss`` would report the bench's 10+ MiB. GNU time
is a small C program: its children start from a tiny mm, so its ``%M`` is the command's own peak.
Without it we fall back to ``wait4`` and say that the numbers include that floor.

The command runs in its own process group with stdin and stdout on /dev/null and stderr in a
temporary file; on timeout the whole group gets SIGKILL.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    wall_s: float
    peak_rss_kib: int | None
    failure: str | None = None  # None when the command exited 0
    cpu_s: float | None = None  # user + system time (wait4), steadier than wall time under load


@dataclass(frozen=True)
class Measurement:
    """Repeated runs of one command; ``note`` replaces the numbers when it could not run."""

    label: str
    runs: tuple[Run, ...] = ()
    note: str | None = None

    @property
    def failure(self) -> str | None:
        if self.note:
            return self.note
        failed = [run.failure for run in self.runs if run.failure]
        return failed[0] if failed else None

    @property
    def median_s(self) -> float | None:
        return None if self.failure else statistics.median(run.wall_s for run in self.runs)

    @property
    def min_s(self) -> float | None:
        return None if self.failure else min(run.wall_s for run in self.runs)

    @property
    def median_cpu_s(self) -> float | None:
        times = [run.cpu_s for run in self.runs if run.cpu_s is not None]
        return None if self.failure or not times else statistics.median(times)

    @property
    def peak_rss_mib(self) -> float | None:
        sizes = [run.peak_rss_kib for run in self.runs if run.peak_rss_kib is not None]
        return max(sizes) / 1024 if sizes and not self.failure else None


def find_gnu_time() -> str | None:
    path = shutil.which("time") or ("/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None)
    if not path:
        return None
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if "GNU" in version.stdout + version.stderr else None


class CommandRunner:
    def __init__(self, timeout: float, gnu_time: str | None):
        self.timeout = timeout
        self.gnu_time = gnu_time

    @property
    def rss_method(self) -> str:
        if self.gnu_time:
            return f"GNU time %M ({self.gnu_time})"
        return "wait4 ru_maxrss (includes the bench's own RSS as a floor: install GNU time)"

    def run(self, argv: list[str]) -> Run:
        with (open(os.devnull, "r+b") as null, tempfile.TemporaryFile() as stderr,
              tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss_file):
            command = argv
            if self.gnu_time:
                command = [self.gnu_time, "-f", "%M", "-o", rss_file.name, *argv]
            started = time.perf_counter()
            try:
                pid = _spawn(command, null.fileno(), stderr.fileno())
            except OSError as exc:
                return Run(0.0, None, f"cannot start: {exc.strerror}")
            timed_out = not self._wait_for_exit(pid)
            _, status, usage = os.wait4(pid, 0)
            wall_s = time.perf_counter() - started
            time_report = Path(rss_file.name).read_text() if self.gnu_time else ""
            stderr.seek(max(0, os.fstat(stderr.fileno()).st_size - 4096))
            error_text = stderr.read().decode(errors="replace")
        if timed_out:
            return Run(wall_s, None, f"timeout >{self.timeout:g}s")
        peak_kib = _time_rss(time_report) if self.gnu_time else usage.ru_maxrss
        # GNU time waits for the command: its usage includes the command's (and its own, tiny)
        cpu_s = usage.ru_utime + usage.ru_stime
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code != 0:
            return Run(wall_s, peak_kib, _describe_failure(exit_code, time_report, error_text),
                       cpu_s)
        return Run(wall_s, peak_kib, None, cpu_s)

    def _wait_for_exit(self, pid: int) -> bool:
        """True when ``pid`` exited within the timeout; otherwise kill its group, return False.

        The command has its own process group, so Ctrl-C does not reach it: kill it here."""
        pidfd = os.pidfd_open(pid)
        try:
            exited, _, _ = select.select([pidfd], [], [], self.timeout)
        except BaseException:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        finally:
            os.close(pidfd)
        if not exited:
            os.killpg(pid, signal.SIGKILL)
        return bool(exited)


def _spawn(command: list[str], null_fd: int, stderr_fd: int) -> int:
    """Start ``command`` in a process group of its own: stdin and stdout /dev/null."""
    return os.posix_spawnp(command[0], command, os.environ, setpgroup=0, file_actions=[
        (os.POSIX_SPAWN_DUP2, null_fd, 0),
        (os.POSIX_SPAWN_DUP2, null_fd, 1),
        (os.POSIX_SPAWN_DUP2, stderr_fd, 2),
    ])


def _time_rss(time_report: str) -> int | None:
    """The last word GNU time wrote: ``%M``, in KiB (a line before it may say how it ended)."""
    words = time_report.split()
    try:
        return int(words[-1])
    except (IndexError, ValueError):
        return None


def _describe_failure(exit_code: int, time_report: str, error_text: str) -> str:
    """``failed (exit 1: ValueError: bad)``: the last stderr line is the exception of a
    traceback or the one message of ss or netstat."""
    ending = f"exit {exit_code}"
    if exit_code < 0 or "terminated by signal" in time_report:
        ending = f"killed by signal {-exit_code if exit_code < 0 else exit_code - 128}"
    last_line = next((line.strip() for line in reversed(error_text.splitlines()) if line.strip()), "")
    return f"failed ({ending}: {last_line[:70]})" if last_line else f"failed ({ending})"
