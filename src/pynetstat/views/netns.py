"""A network namespace as the listings show it (--netns, --all-netns): the Namespace column's
cell and the JSON ``netns`` object, every string escaped (container and pod names come from
runtime files and cgroup paths: untrusted)."""

from __future__ import annotations

from pynetstat.textsafe import json_text, safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.model.netns import NetNamespace


def netns_cell(ns: NetNamespace | None) -> str:
    """The Namespace column: ``host``, a pod or container name, an ``ip netns`` name, a short
    container ID, a pod UID, or the inode; a space shows as ``\\x20`` (one cell, one word)."""
    return "-" if ns is None else safe_token(ns.label)


def netns_json(ns: NetNamespace) -> dict:
    """``{"inode", "label", "name", "container": {"id", "runtime", "name"} or null, "pod":
    {"uid", "name"} or null}`` (docs/json.md, "The netns object")."""
    return _escaped(ns.to_json())


def _escaped(value):
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    return value
