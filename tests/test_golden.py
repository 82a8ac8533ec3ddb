"""Every mode over every recorded kernel prints what it printed when the recording's golden files
were written (tests/fixtures/golden_outputs.py): a change of output is a choice, never a side
effect of moving code."""

from __future__ import annotations

import re
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
    assert _checkout_free(run(scenario, argv)) == _checkout_free(expected)


def _checkout_free(text: str) -> str:
    """Paths of the recordings (in JSON notes) name the checkout the files were written in; the
    case holds in any checkout (CI clones elsewhere)."""
    return re.sub(r"/\S*?/tests/fixtures/linux/", "<fixtures>/linux/", text)
