"""Write pynetstat's bytecode before it is timed, as ``pip install`` does.

This project's sandbox sets PYTHONDONTWRITEBYTECODE, so a checkout run would compile every module
it imports on every run (at 40,000 sockets, 32 compiles were 20% of an ``-an --info`` run's CPU
time in a profile), which no installed pynetstat does. Every bench script that times pynetstat
calls ``precompile`` first, with the checkout it times (``--compare DIR`` too).
"""

from __future__ import annotations

import compileall
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def precompile(repo: Path = REPO) -> str:
    """Compile ``repo``'s src/pynetstat; what happened, for the run's header."""
    if compileall.compile_dir(str(Path(repo) / "src" / "pynetstat"), quiet=1):
        return f"bytecode of {repo} written before timing (as pip install does)"
    return f"compileall failed in {repo}: each run compiles what it imports"
