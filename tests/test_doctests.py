"""The worked examples in src/ docstrings hold: doctest over every module of the package."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pynetstat

MODULES = sorted(m.name for m in pkgutil.walk_packages(pynetstat.__path__, "pynetstat.")
                 if not m.name.endswith(".__main__"))  # importing __main__ runs pynetstat

# The modules that import an extra's library, and that library: without it they are skipped
# (the core needs only the standard library; any other import error fails).
NEEDS_EXTRA = {"pynetstat.modes.live.app": "textual", "pynetstat.modes.live.sheets": "textual",
               "pynetstat.modes.live.grid": "textual"}


def _load(name):
    if name in NEEDS_EXTRA:
        pytest.importorskip(NEEDS_EXTRA[name])
    return importlib.import_module(name)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(_load(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} fail"


def test_there_are_examples():
    core = [name for name in MODULES if name not in NEEDS_EXTRA]
    attempted = sum(doctest.testmod(importlib.import_module(name)).attempted for name in core)
    assert attempted >= 10
