"""--audit's findings as text and as a JSON document (docs/audit.md), and --diff's changes.

Pure functions of ``Finding`` records. Every string that came from a process or a file (names,
paths, argv, library paths, interface names) goes through ``textsafe.safe`` in text and
``textsafe.json_text`` in JSON (docs/escaping.md).
"""

from __future__ import annotations

from pynetstat.model.evidence import SEVERITIES
from pynetstat.model.sockets import kernel_state_name
from pynetstat.textsafe import json_text, safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pynetstat.model.evidence import Fact, Finding, ProcessFacts
    from pynetstat.model.sockets import InetSocket

SCHEMA_VERSION = 1
_LABEL = {"alert": "ALERT", "warning": "WARNING", "info": "INFO"}


def _plural(n: int, word: str, words: str = "") -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def _text_value(value: object) -> str:
    if isinstance(value, dict):
        # None and [] say nothing in a line of text (JSON keeps them)
        return ", ".join(f"{k}={_text_value(v)}" for k, v in value.items()
                         if v is not None and v != [])
    if isinstance(value, (list, tuple)):
        return " ".join(_text_value(v) for v in value)
    if isinstance(value, str):
        return safe(value)
    return str(value)


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def socket_text(s: InetSocket) -> str:
    label = f"{s.proto}{'6' if s.family == 6 else ''}"
    return (f"{label} {_endpoint(s.local_address, s.local_port)} -> "
            f"{_endpoint(s.remote_address, s.remote_port)} {kernel_state_name(s.state)} "
            f"inode {s.inode}")


def _process_lines(pf: ProcessFacts) -> list[str]:
    info = pf.process
    if info is None or info.unreadable:
        why = info.unreadable if info is not None and info.unreadable else "not read"
        return [f"process: {pf.pid} ({safe(why)})"]
    exe = safe(info.exe) + (" (deleted)" if info.exe_deleted else "") if info.exe else "-"
    lines = [f"process: {pf.pid} {safe(info.name or '?')}, user {info.uid}, exe {exe}"]
    if info.ancestry:
        lines.append("ancestry: " + " < ".join(f"{safe(name or '?')} ({pid})"
                                               for pid, name in info.ancestry))
    return lines


def _fact_line(fact: Fact) -> str:
    if fact.unreadable:
        return f"{fact.what}: unreadable ({safe(fact.unreadable)}) [{safe(fact.source)}]"
    return f"{fact.what}: {_text_value(fact.value)} [{safe(fact.source)}]"


def findings_text(findings: list[Finding], processes: int, notes: list[str]) -> str:
    """Findings, most serious first, each with its evidence indented; then notes and a summary."""
    out = []
    for f in findings:
        out.append(f"{_LABEL[f.severity]} {f.sign}: {f.why}")
        lines = _process_lines(f.process) if f.process is not None else []
        lines += [f"socket: {socket_text(s)}" for s in f.sockets]
        lines += [_fact_line(fact) for fact in f.evidence]
        out += ["    " + line for line in lines]
    for note in notes:
        out.append(f"note: {safe(note)}")
    counts = summary(findings)
    out.append(f"Audit: {_plural(counts['alert'], 'alert')}, {_plural(counts['warning'], 'warning')}, "
               f"{counts['info']} info; {_plural(processes, 'process', 'processes')} with network sockets checked.")
    return "\n".join(out) + "\n"


def _json_value(value: object) -> object:
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, str):
        return json_text(value)
    return value


def socket_json(s: InetSocket) -> dict[str, object]:
    return {"proto": s.proto, "family": "ipv6" if s.family == 6 else "ipv4",
            "state": kernel_state_name(s.state), "local_address": s.local_address,
            "local_port": s.local_port, "remote_address": s.remote_address,
            "remote_port": s.remote_port, "inode": s.inode}


def _opt(value: str | None) -> str | None:
    return None if value is None else json_text(value)


def _process_json(pf: ProcessFacts) -> dict[str, object]:
    info = pf.process
    if info is None:
        return {"pid": pf.pid, "name": None, "exe": None, "exe_deleted": False, "user": None,
                "ancestry": None, "unreadable": "not read"}
    opt = _opt
    return {"pid": pf.pid, "name": opt(info.name), "exe": opt(info.exe),
            "exe_deleted": info.exe_deleted, "user": info.uid,
            "ancestry": None if info.ancestry is None else [
                {"pid": pid, "name": opt(name)} for pid, name in info.ancestry],
            "unreadable": info.unreadable}


def findings_json(findings: list[Finding], processes: int, notes: list[str], status: int
                  ) -> dict[str, Any]:
    """The --audit --json document (docs/audit.md)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "findings": [{
            "severity": f.severity, "sign": f.sign, "why": f.why,
            "process": None if f.process is None else _process_json(f.process),
            "sockets": [socket_json(s) for s in f.sockets],
            "evidence": [{"what": e.what, "value": _json_value(e.value),
                          "source": json_text(e.source),
                          "unreadable": e.unreadable} for e in f.evidence],
        } for f in findings],
        "notes": [json_text(n) for n in notes],
        "summary": {**summary(findings), "processes": processes},
        "exit_status": status,
    }


def changes_text(changes: list[dict[str, Any]]) -> str:
    """--diff's changes, one line each (``new-listener tcp 0.0.0.0:8080 /usr/bin/x``), then a
    summary line."""
    out = []
    for c in changes:
        words = [c["change"]]
        if "proto" in c:
            words.append(f"{c['proto']} {_endpoint(c['address'], c['port'])}")
        if c.get("exe") is not None:
            words.append(safe(c["exe"]))
        if c.get("was") is not None:
            words.append(f"sha256 {c['was']} -> {c['now']}")
        out.append(" ".join(words))
    out.append("Diff: " + (_plural(len(changes), "change") + " since the baseline." if changes
                           else "nothing changed since the baseline."))
    return "\n".join(out) + "\n"


def changes_json(changes: list[dict[str, Any]], status: int) -> dict[str, object]:
    return {"schema_version": SCHEMA_VERSION, "changes": _json_value(changes),
            "exit_status": status}
