"""The record classes' slots come from tables (model/fields.py, LINK_STAT_FIELDS), which a type
checker cannot read; each class states its slots' types under ``if TYPE_CHECKING:`` instead.
These tests keep the two equal: a field added to a table without its type (or a type left for a
field that is gone) fails here, before mypy would quietly treat the attribute as unknown."""

import ast
import inspect
import textwrap

import pytest

from pynetstat.model.sockets import InetSocket, SocketBatch
from pynetstat.model.stats import LinkStats


def _declared(cls: type) -> list[str]:
    """The names annotated in the class body's ``if TYPE_CHECKING:`` block, in order."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    (body,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    names = []
    for node in body.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            names += [s.target.id for s in node.body if isinstance(s, ast.AnnAssign)]
    return names


@pytest.mark.parametrize("cls", [InetSocket, SocketBatch, LinkStats], ids=lambda c: c.__name__)
def test_every_slot_has_its_type_and_no_more(cls):
    declared = _declared(cls)
    assert len(declared) == len(set(declared)), "a slot's type is stated twice"
    assert sorted(declared) == sorted(cls.__slots__)
