"""prometheus/pynetstat.rules.yml, the alerting and recording rules for --serve's metrics: valid
for promtool, and its unit tests (pynetstat.rules.test.yml: a deleted executable listening, a new
listener, retransmits over 5%, scrape errors, the recording rules' values) pass."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import REPO

RULES = os.path.join(REPO, "prometheus")

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian package prometheus; .ci/run installs it)")


@pytest.mark.parametrize("argv", [["check", "rules", "pynetstat.rules.yml"],
                                  ["test", "rules", "pynetstat.rules.test.yml"]],
                         ids=["check", "test"])
def test_promtool_accepts_the_rules(argv):
    done = subprocess.run(["promtool", *argv], cwd=RULES, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
