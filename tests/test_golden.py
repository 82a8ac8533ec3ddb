"""Every mode over every recorded kernel prints what it printed when the recording's golden files
were written (tests/fixtures/golden_outputs.py): a change of output is a choice, never a side
effect of moving code."""

from __future__ import annotations

import sys

import pytest
from golden_outputs import case_file, run, scenarios

pytestmark = pytest.mark.skipif(sys.byteorder != "little",
                                reason="the recordings are in the recording host's byte order")


@pytest.mark.parametrize(("scenario", "argv"), scenarios(),
                         ids=[f"{s}:{' '.join(a)}" for s, a in scenarios()])
def test_output_is_unchanged(scenario, argv):
    with open(case_file(scenario, argv), encoding="utf-8", newline="") as f:
        expected = f.read()
    assert run(scenario, argv) == expected
