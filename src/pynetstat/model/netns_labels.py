"""A network namespace as the listings show it (--netns, --all-netns): the Namespace column's
cell and the JSON ``netns`` object, every string escaped (container and pod names come from
runtime files and cgroup paths: untrusted). In model/, below views and render, which both name
namespaces (a view may import no other view)."""

from __future__ import annotations

from pynetstat.textsafe import json_text, safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pynetstat.model.netns import NetNamespace


def netns_cell(ns: NetNamespace | None) -> str:
    """The Namespace column: ``host``, a pod or container name, an ``ip netns`` name, a short
    container ID, a pod UID, or the inode; a space shows as ``\\x20`` (one cell, one word)."""
    return "-" if ns is None else safe_token(ns.label)


def netns_named(ns: NetNamespace) -> str:
    """The inode, and the label after it when the label says more: ``4026532456 (blue)``."""
    label = netns_cell(ns)
    return str(ns.inode) if label == str(ns.inode) else f"{ns.inode} ({label})"


def netns_title(ns: NetNamespace) -> str:
    """The line over a namespace's -e, -s, -r with --all-netns."""
    return f"\nNetwork namespace {netns_cell(ns)} (inode {ns.inode})\n"


def netns_json(ns: NetNamespace) -> dict[str, object]:
    """``{"inode", "label", "name", "container": {"id", "runtime", "name"} or null, "pod":
    {"uid", "name"} or null}`` (docs/json.md, "The netns object")."""
    return {key: _escaped(value) for key, value in ns.to_json().items()}


def _escaped(value: object) -> object:
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    return value


def namespace_notes(every: Any) -> list[str]:
    """--all-netns (``every``: a ``linux.allnetns.AllNamespaces``): the stderr lines that say
    which namespaces could not be seen or read, and why, and which were read from /proc."""
    out = []
    found = every.discovery
    if found.denied:
        out.append(f"the network namespaces of {found.denied} process(es) could not be seen "
                   "(their /proc/PID/ns/net may not be read): namespaces only they are in are "
                   "not listed")
    out.extend(f"network namespaces: {note}" for note in found.notes)
    if every.unread:
        out.append(f"{len(every.unread)} network namespace(s) could not be read: " + "; ".join(
            f"{netns_cell(ns)} ({why})" for ns, why in every.unread))
    by_proc = [p for p in every.parts if p.source == "proc"]
    if by_proc:
        out.append("read from /proc/PID/net instead of netlink: " + "; ".join(
            f"{netns_cell(p.namespace)} ({p.why})" for p in by_proc))
    return out


def namespace_note_items(every: Any) -> list[tuple[object, str]]:
    """--all-netns with an interval: what ``namespace_notes`` says, as ``(kind, line)`` pairs
    with one line per namespace, its kind its inode and why, so that each is said once
    (modes/interval.Notes) whatever other namespaces come and go."""
    found = every.discovery
    out: list[tuple[object, str]] = []
    if found.denied:
        out.append(("denied", namespace_notes(every)[0]))
    out.extend((note, f"network namespaces: {note}") for note in found.notes)
    out.extend((("unread", ns.inode, why),
                f"network namespace {netns_named(ns)} could not be read: {why}")
               for ns, why in every.unread)
    out.extend((("proc", p.namespace.inode, p.why),
                f"network namespace {netns_named(p.namespace)}: read from /proc/PID/net "
                f"instead of netlink ({p.why})")
               for p in every.parts if p.source == "proc")
    return out
