"""--snapshot's baseline and --diff's comparison: pure functions of ``Evidence`` and JSON.

A baseline (docs/audit.md) holds, by executable (processes come and go, PIDs change; the program
stays): the listeners, the executables with network sockets (with the SHA-256 of those that
listen), and the remote destinations each executable talks to. Outbound only: a connection whose
local port is one this host listens on was accepted, and its peer's port is ephemeral, so it is
no destination. A process whose executable cannot be read is keyed by its name, ``comm:NAME``.
"""

from __future__ import annotations

import json

from pynetstat.audit.signs import Audit
from pynetstat.errors import InputError
from pynetstat.model.sockets import TCP_LISTEN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pynetstat.model.evidence import Evidence, ProcessFacts
    from pynetstat.model.sockets import InetSocket

    Baseline = dict[str, Any]  # the JSON document (docs/audit.md)
    Change = dict[str, Any]  # one of --diff's changes: {"change": "new-listener", ...}

FORMAT = "pynetstat-baseline"
VERSION = 1


def exe_key(pf: ProcessFacts) -> str:
    info = pf.process
    if info is not None and info.exe:
        return info.exe
    return "comm:" + ((info.name if info is not None else None) or "?")


def _is_listener(s: InetSocket) -> bool:
    return s.state == TCP_LISTEN or (s.proto == "udp" and s.remote_port == 0)


def _family(s: InetSocket) -> str:
    return "ipv6" if s.family == 6 else "ipv4"


def listener_executables(evidence: Evidence) -> set[str]:
    """The executables to hash: those holding a listener."""
    return {exe_key(pf) for pf in evidence.processes.values() if any(map(_is_listener, pf.sockets))}


def build_baseline(evidence: Evidence, hashes: dict[str, str | None], taken: str) -> Baseline:
    """The baseline document; ``hashes`` from ``linux.exehash.hash_executables``, ``taken`` an
    ISO 8601 time."""
    listening_ports = {(s.proto, s.local_port) for pf in evidence.processes.values()
                       for s in pf.sockets if _is_listener(s)}
    listeners: set[tuple[str, str, str, int, str]] = set()
    destinations: set[tuple[str, str, str, int]] = set()
    executables: dict[str, dict[str, Any]] = {}
    for pf in evidence.processes.values():
        if not pf.sockets:
            continue  # a holder of RAW or packet sockets only: the baseline is TCP and UDP
        key = exe_key(pf)
        entry = executables.setdefault(key, {"exe": key, "names": set(), "users": set(),
                                             "listens": False, "sha256": None})
        info = pf.process
        if info is not None and info.name is not None:
            entry["names"].add(info.name)
        if info is not None and info.uid is not None:
            entry["users"].add(info.uid)
        for s in pf.sockets:
            if _is_listener(s):
                entry["listens"] = True
                listeners.add((s.proto, _family(s), s.local_address, s.local_port, key))
            elif s.remote_port and (s.proto, s.local_port) not in listening_ports:
                destinations.add((key, s.proto, s.remote_address, s.remote_port))
    for key, entry in executables.items():
        if entry["listens"]:
            entry["sha256"] = hashes.get(key)
        entry["names"] = sorted(entry["names"])
        entry["users"] = sorted(entry["users"])
    return {
        "format": FORMAT, "version": VERSION, "taken": taken,
        "listeners": [{"proto": p, "family": f, "address": a, "port": n, "exe": e}
                      for p, f, a, n, e in sorted(listeners)],
        "executables": [executables[k] for k in sorted(executables)],
        "destinations": [{"exe": e, "proto": p, "address": a, "port": n}
                         for e, p, a, n in sorted(destinations)],
    }


def dump_baseline(baseline: Baseline) -> str:
    # ensure_ascii: a path's undecodable bytes (surrogates) survive as \udcNN and load back.
    return json.dumps(baseline, indent=1, sort_keys=True) + "\n"


# What diff_baselines reads of each entry: a file edited by hand or cut short is refused whole,
# rather than failing halfway through the comparison.
_ENTRY_FIELDS = {
    "listeners": frozenset({"proto", "family", "address", "port", "exe"}),
    "executables": frozenset({"exe", "names", "users"}),
    "destinations": frozenset({"exe", "proto", "address", "port"}),
}


def load_baseline(text: str, path: str) -> Baseline:
    """A baseline read back; a file of another format or version is a usage error naming it."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InputError(f"{path}: not a pynetstat baseline: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{path}: not a pynetstat baseline (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise InputError(f"{path}: baseline version {doc.get('version')!r}; this pynetstat "
                         f"reads version {VERSION}")
    for key, fields in _ENTRY_FIELDS.items():
        entries = doc.get(key)
        if not isinstance(entries, list):
            raise InputError(f"{path}: baseline without a {key!r} list")
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or not fields <= entry.keys():
                raise InputError(f"{path}: {key}[{n}] is not an entry with "
                                 + ", ".join(sorted(fields)))
    return doc


def diff_baselines(old: Baseline, new: Baseline) -> list[Change]:
    """What changed from ``old`` to ``new``, each change once: ``new-listener`` and
    ``gone-listener``, ``exe-changed`` (a listener's executable hashes differently),
    ``new-executable`` (with the destinations it talks to), and ``new-destination`` of an
    executable the baseline knew."""
    def listeners(doc: Baseline) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {(d["proto"], d["family"], d["address"], d["port"], d["exe"]): d
                for d in doc["listeners"]}

    changes: list[Change] = []
    was, now = listeners(old), listeners(new)
    changes += [{"change": "new-listener", **now[k]} for k in sorted(now.keys() - was.keys())]
    changes += [{"change": "gone-listener", **was[k]} for k in sorted(was.keys() - now.keys())]
    old_exes = {e["exe"]: e for e in old["executables"]}
    fresh: set[str] = set()
    for entry in new["executables"]:
        before = old_exes.get(entry["exe"])
        if before is None:
            fresh.add(entry["exe"])
            changes.append({"change": "new-executable", "exe": entry["exe"],
                            "names": entry["names"], "users": entry["users"],
                            "destinations": [d for d in new["destinations"]
                                             if d["exe"] == entry["exe"]]})
        elif before.get("sha256") and entry.get("sha256") and before["sha256"] != entry["sha256"]:
            changes.append({"change": "exe-changed", "exe": entry["exe"],
                            "was": before["sha256"], "now": entry["sha256"]})
    seen = {(d["exe"], d["proto"], d["address"], d["port"]) for d in old["destinations"]}
    changes += [{"change": "new-destination", **d} for d in new["destinations"]
                if d["exe"] not in fresh and (d["exe"], d["proto"], d["address"], d["port"]) not in seen]
    return changes


def diff_status(changes: list[Change]) -> int:
    """--diff's exit status: ``Audit.CHANGED`` (5) when anything changed, else 0."""
    return Audit.CHANGED if changes else 0
