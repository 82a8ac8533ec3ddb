"""SHA-256 of the executables that hold listeners, for --snapshot's baseline.

Each file is read through ``/proc/PID/exe``, which opens the very inode the process runs: a file
deleted or replaced since the process started still hashes as what runs, not as what now has
its name. Each inode is hashed once however many processes run it (a pre-fork server's workers),
and only executables that hold a listener are read at all (issue 16: the speed budget).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.model.evidence import Evidence

_CHUNK = 1 << 20


def _sha256(fd: int) -> str:
    import hashlib  # only --snapshot and --diff pay for it

    digest = hashlib.sha256()
    while True:
        block = os.read(fd, _CHUNK)
        if not block:
            return digest.hexdigest()
        digest.update(block)


def hash_executables(procfs: ProcFS, evidence: Evidence, paths: set[str]) -> dict[str, str | None]:
    """``exe path -> sha256 hex`` for each path in ``paths`` that a process of ``evidence``
    runs; ``None`` for one that could not be read (a process gone, or not ours to read)."""
    hashes: dict[str, str | None] = {}
    by_inode: dict[tuple[int, int], str] = {}
    for pid in sorted(evidence.processes):
        info = evidence.processes[pid].process
        if info is None or info.exe not in paths or hashes.get(info.exe) is not None:
            continue
        try:
            fd = os.open(procfs.path(f"{pid}/exe"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            hashes.setdefault(info.exe, None)
            continue
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            if key not in by_inode:
                by_inode[key] = _sha256(fd)
            hashes[info.exe] = by_inode[key]
        except OSError:
            hashes.setdefault(info.exe, None)
        finally:
            os.close(fd)
    return hashes
