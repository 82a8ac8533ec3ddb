"""The worked examples in src/ docstrings hold: doctest over every module of the package."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pynetstat

MODULES = sorted(m.name for m in pkgutil.walk_packages(pynetstat.__path__, "pynetstat.")
                 if not m.name.endswith(".__main__"))  # importing __main__ runs pynetstat


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} fail"


def test_there_are_examples():
    attempted = sum(doctest.testmod(importlib.import_module(name)).attempted for name in MODULES)
    assert attempted >= 10
