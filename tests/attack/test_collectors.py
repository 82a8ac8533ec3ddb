"""One failure policy for every collector (-e, -s, -r): a source that cannot be read is a note in
the snapshot, never the end of a display that combines views.

The faults come from a hostile machine, as in test_faults.py: a /proc tree on disk whose
net/dev is broken in each way ``FakeProc.break_path`` knows, and a kernel double whose
RTM_GETLINK dump fails (an error reply, or an OSError from the socket).
"""

from __future__ import annotations

import ast
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .check import assert_quiet_stderr, run_inprocess
from .kernel import BREAKS, FakeKernel, FakeProc, error_message

SRC = Path(__file__).resolve().parents[2] / "src" / "pynetstat"


@pytest.fixture
def tree():
    d = tempfile.mkdtemp(prefix="pynetstat-collectors-")
    yield FakeProc(Path(d))
    shutil.rmtree(d, ignore_errors=True)


def link_error(key, chunks, seq):
    if key == "rtnl-link":
        return [error_message(seq, errno.EOPNOTSUPP)]
    return chunks


def link_raises(key, chunks, seq):
    if key == "rtnl-link":
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    return chunks


@pytest.mark.parametrize("fault", [link_error, link_raises], ids=["error-reply", "oserror"])
@pytest.mark.parametrize("how", [how for how in BREAKS if how != "empty"])
@pytest.mark.parametrize("argv", [["-e", "-s"], ["-e", "-s", "--json"], ["-er"], ["-ers", "--json"]],
                         ids=" ".join)
def test_both_interface_sources_fail(tree, argv, how, fault):
    """RTM_GETLINK fails and /proc/net/dev is broken: the other views are shown, the interfaces
    are said to be unavailable, once, on stderr (and as a null source in JSON), exit 0. (An empty
    net/dev is a /proc that lists no interface: test_faults.py says it is no loss.)"""
    tree.break_path("net/dev", how)
    flags = "".join(a.lstrip("-") for a in argv if a != "--json")
    result = run_inprocess(argv, proc_root=tree.root, netlink=FakeKernel(fault=fault))
    assert_quiet_stderr(result.err)
    assert result.status == 0, result
    said = [line for line in result.err.splitlines() if "interfaces could not be read" in line]
    assert len(said) == 1, result.err
    if "--json" in argv:
        doc = json.loads(result.out)
        assert doc["interfaces"]["source"] is None and doc["interfaces"]["interfaces"] == []
        assert doc["interfaces"]["total"] is None
        assert [s["name"] for s in doc["statistics"]["sections"]][0] == "ipv4"
        if "routes" in doc:
            assert doc["routes"]["source"]["links"] is None
            assert doc["routes"]["ipv4_routes"], doc["routes"]  # from netlink all the same
    else:
        assert "Interface Statistics" in result.out and "Not available" in result.out
        if "s" in flags:
            assert "IPv4 Statistics" in result.out and "Packets Received" in result.out
        if "r" in flags:
            assert "IPv4 Route Table" in result.out and "Network Destination" in result.out


def test_views_only_format():
    """views/ never reads the kernel: no import of linux/ (nor of another view) in them."""
    for path in sorted((SRC / "views").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(("pynetstat.linux", "pynetstat.views")), (path, name)
