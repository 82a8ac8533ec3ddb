"""--audit, --snapshot FILE and --diff FILE (issue 16, docs/audit.md): one reading of the sockets
and the processes that hold them, judged (--audit) or kept as a baseline and compared with an
earlier one (--snapshot, --diff). The format chosen once prints the findings or the changes;
this mode never asks which.

Exit statuses: --audit's from ``audit.signs.exit_status`` (3 alerts, 4 warnings, else 0);
--diff's from ``audit.baseline.diff_status`` (5 when anything changed). A --diff FILE that
cannot be read or is no baseline is an ``InputError`` (2, one line), raised before the kernel
is read; a --snapshot FILE that cannot be written is an ``OutputError`` (1).
"""

from __future__ import annotations

import os

from pynetstat.errors import InputError, OutputError
from pynetstat.formats import chosen
from pynetstat.session import NoCycleCollection, Session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.audit.baseline import Baseline
    from pynetstat.env import Environment
    from pynetstat.formats import Format
    from pynetstat.model.evidence import Evidence
    from pynetstat.options import Options


def run(opts: Options, env: Environment) -> int:
    from pynetstat.linux.evidence import collect_evidence

    old = read_baseline(opts.diff) if opts.diff is not None else None
    session = Session(opts, env)
    try:
        fmt = chosen(session)
        with NoCycleCollection():
            evidence = collect_evidence(env, session.netlink)
            if opts.audit:
                return audit(session, fmt, evidence)
            return baseline(session, fmt, evidence, old)
    finally:
        session.close()


def audit(session: Session, fmt: Format, evidence: Evidence) -> int:
    from pynetstat.audit.signs import exit_status, judge

    findings = judge(evidence)
    status = exit_status(findings)
    fmt.write_findings(session.env.stdout, findings, len(evidence.processes), evidence.notes,
                       status)
    return status


def baseline(session: Session, fmt: Format, evidence: Evidence, old: Baseline | None) -> int:
    """Build the baseline of now; compare it with ``old`` (--diff), then write it (--snapshot)."""
    import time

    from pynetstat.audit.baseline import (
        build_baseline,
        diff_baselines,
        diff_status,
        listener_executables,
    )
    from pynetstat.linux.exehash import hash_executables
    from pynetstat.linux.procfs import ProcFS

    opts = session.opts
    hashes = hash_executables(ProcFS(session.env.proc_root), evidence,
                              listener_executables(evidence))
    taken = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.env.wall_clock()))
    now = build_baseline(evidence, hashes, taken)
    for note in evidence.notes:
        session.say(note)
    status = 0
    if old is not None:
        changes = diff_baselines(old, now)
        status = diff_status(changes)
        fmt.write_baseline_changes(session.env.stdout, changes, status)
    if opts.snapshot is not None:
        write_atomically(opts.snapshot, now)
    return status


def read_baseline(path: str) -> Baseline:
    """The baseline in ``path``; ``InputError`` (one line, exit 2) when it cannot be read or is
    not one."""
    from pynetstat.audit.baseline import load_baseline

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read the baseline: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a pynetstat baseline (not UTF-8 text)") from None
    return load_baseline(text, path)


def write_atomically(path: str, doc: Baseline) -> None:
    """``path`` replaced whole or not at all: a temporary file in the same directory, flushed to
    disk, then renamed over it (rename(2) is atomic within a file system), so a reader or a
    crash never sees half a baseline. The file is made 0600 (mkstemp): it lists every
    executable and destination of the host."""
    import tempfile

    from pynetstat.audit.baseline import dump_baseline

    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=".pynetstat-baseline.", dir=directory)
    except OSError as e:
        raise OutputError(path, e) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump_baseline(doc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError as e:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise OutputError(path, e) from None
