"""What a plain ``-an`` imports, pinned: start-up is part of its speed (each module costs about
0.3 ms here), so a module that joins the path of the most common run has to be chosen, not slipped
in. A new feature imports its modules lazily, when its option is given."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every pynetstat module a plain -an loads, and nothing else (modes, formats, views, collectors
# of the one display it makes).
AN_MODULES = {
    "pynetstat", "pynetstat.cli", "pynetstat.console", "pynetstat.env", "pynetstat.errors", "pynetstat.flags",
    "pynetstat.formats", "pynetstat.formats.text", "pynetstat.kinds", "pynetstat.linux",
    "pynetstat.linux.connections", "pynetstat.linux.netlink", "pynetstat.linux.procfs",
    "pynetstat.linux.sockdiag", "pynetstat.linux.sockets", "pynetstat.model",
    "pynetstat.model.fields", "pynetstat.model.sockets", "pynetstat.modes", "pynetstat.modes.once",
    "pynetstat.options", "pynetstat.render", "pynetstat.render.endpoints",
    "pynetstat.render.table", "pynetstat.session", "pynetstat.textsafe", "pynetstat.views",
    "pynetstat.views.connections",
}
# Standard library modules beyond a bare interpreter's: small C modules and struct. Not json,
# re, signal, enum, typing, dataclasses, argparse, threading (each costs milliseconds).
AN_STDLIB_ALLOWED = {"__future__", "_socket", "_struct", "errno", "gc", "itertools", "pwd",
                     "struct"}

BARE = "import sys; print(repr(sorted(sys.modules)))"
RUN_AN = ("import io, sys\n"
          "from pynetstat.cli import main\n"
          "from pynetstat.env import Environment\n"
          "main(['-an'], Environment(io.StringIO(), io.StringIO()))\n"
          "print(repr(sorted(sys.modules)))")


def _modules(code: str) -> set[str]:
    """The modules loaded when ``code`` has run in a fresh interpreter (it prints them)."""
    import ast

    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=60).stdout
    return set(ast.literal_eval(out))


def test_a_plain_listing_imports_exactly_these_modules():
    loaded = _modules(RUN_AN)
    assert {m for m in loaded if m.split(".")[0] == "pynetstat"} == AN_MODULES
    # io and the Environment's own needs (os, sys, time) are a bare interpreter's already.
    extra = {m for m in loaded - _modules(BARE) if m.split(".")[0] != "pynetstat"}
    assert extra <= AN_STDLIB_ALLOWED, sorted(extra - AN_STDLIB_ALLOWED)


# Every module of the core, imported in a fresh interpreter: Textual (the live extra) and Rich come
# in only with the live view's app (modes/live/app.py, its table grid.py and its screens, sheets.py),
# after modes/live has checked for them.
IMPORT_ALL_BUT_THE_APP = (
    "import pkgutil, sys, pynetstat\n"
    "for m in pkgutil.walk_packages(pynetstat.__path__, 'pynetstat.'):\n"
    "    if m.name not in ('pynetstat.modes.live.app', 'pynetstat.modes.live.sheets',\n"
    "                      'pynetstat.modes.live.grid', 'pynetstat.__main__'):\n"
    "        __import__(m.name)\n"
    "print(repr(sorted(sys.modules)))")


def test_the_core_never_imports_textual():
    loaded = _modules(IMPORT_ALL_BUT_THE_APP)
    assert "pynetstat.modes.live.collector" in loaded and "pynetstat.modes.close" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("textual", "rich")}
