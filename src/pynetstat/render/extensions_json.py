"""The ``dscp``, ``timer``, ``memory``, ``tcp_info`` and ``mptcp_info`` fields of a connection's
JSON row (-d, --timers, --memory, --info, -i): every field of ``struct tcp_info``, its unit in its
name (docs/json.md, "tcp_info"), ``null`` where the kernel does not report it. CSV spreads the
objects over a column per key (``EXTENSION_OBJECTS``, render/csvout.py). The text lines under a
row are render/extensions.py's."""

from __future__ import annotations

from operator import itemgetter

from pynetstat.linux.diagext import SK_MEMINFO_FIELDS
from pynetstat.linux.tcpinfo import BIT_POSITIONS, FIELD_NAMES, RAW_NAMES, UNITS
from pynetstat.textsafe import json_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pynetstat.linux.diagext import Extensions, Timer
    from pynetstat.linux.tcpinfo import TcpInfo
    from pynetstat.model.passes import Measure

# Unit of a tcp_info field (tcpinfo.TCP_INFO_FIELDS) -> the suffix its JSON name carries, unless
# the name says it already (``bytes_acked``, ``data_segs_in``).
_SUFFIXES = {"us": "us", "ms": "ms", "bytes": "bytes", "segments": "segs", "bytes/s": "bytes_per_sec"}
# Bit-field containers never appear; these two are written as names, not only as numbers.
_DERIVED_JSON = (("congestion", "string or null"), ("option_names", "array of string"))
# Interval mode's measures of the connection (model/passes.py), null outside it: the bytes per
# second sent (acked) and received over the last pass, the seconds that pass took, and with -i
# the seconds this run has seen the socket in its state (a lower bound of its time in state).
MEASURED_JSON = (("send_bytes_per_sec", "number or null"),
                 ("receive_bytes_per_sec", "number or null"),
                 ("rate_seconds", "number or null"),
                 ("seen_in_state_seconds", "number or null"))


def json_name(name: str, unit: str) -> str:
    """``("rtt", "us") -> "rtt_us"``, ``("bytes_acked", "bytes") -> "bytes_acked"``,
    ``("pacing_rate", "bytes/s") -> "pacing_rate_bytes_per_sec"``, ``("retransmits", "count")
    -> "retransmits"``."""
    suffix = _SUFFIXES.get(unit)
    if suffix is None or suffix.split("_")[0] in name.split("_"):
        return name
    return f"{name}_{suffix}"


TCP_INFO_JSON = tuple((name, json_name(name, UNITS[name])) for name in FIELD_NAMES)
# (JSON name, documented type) of the tcp_info object, in the order it is written.
TCP_INFO_SCHEMA = (tuple((key, "int or null") for _name, key in TCP_INFO_JSON) + _DERIVED_JSON
                   + MEASURED_JSON)

TIMER_SCHEMA = (("name", "string"), ("expires_ms", "int"), ("retrans", "int"))
# SkMemInfo field -> JSON name: bytes, but ``drops`` counts packets.
MEMORY_JSON = tuple((name, f"{name}_packets" if name == "drops" else f"{name}_bytes")
                    for name in SK_MEMINFO_FIELDS)
MEMORY_SCHEMA = tuple((key, "int or null") for _name, key in MEMORY_JSON)
# The older INET_DIAG_MEMINFO (before Linux 3.6) -> the skmeminfo fields it holds.
_MEMINFO_AS = (("rmem", "rmem_alloc"), ("wmem", "wmem_queued"), ("fmem", "fwd_alloc"),
               ("tmem", "wmem_alloc"))


TIMER_JSON = ("name", "expires_ms", "retrans")


def timer_json(timer: Timer | None) -> dict[str, Any] | None:
    if timer is None:
        return None
    return dict(zip(TIMER_JSON, (timer.name, timer.expires_ms, timer.retrans)))


def memory_json(ext: Extensions) -> dict[str, Any] | None:
    sk = ext.skmeminfo
    if sk is not None:
        return {key: getattr(sk, name) for name, key in MEMORY_JSON}
    m = ext.meminfo
    if m is None:
        return None
    known = {sk_name: getattr(m, name) for name, sk_name in _MEMINFO_AS}
    return {key: known.get(name) for name, key in MEMORY_JSON}


# The JSON keys of the struct's own fields, then of its bit fields, in TCP_INFO_JSON's order
# (FIELD_NAMES lists the plain fields first): the plain ones are one itemgetter over the tuple.
_PLAIN = tuple(i for i, name in enumerate(RAW_NAMES) if not name.startswith("_"))
_PLAIN_GET = itemgetter(*_PLAIN)
_JSON_KEYS = tuple(key for _name, key in TCP_INFO_JSON)
_BIT_GETS = tuple(BIT_POSITIONS[name] for name in FIELD_NAMES[len(_PLAIN):])


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def measured_json(measure: Measure | None) -> dict[str, float | None]:
    """``MEASURED_JSON``'s fields: rates to a tenth of a byte per second (as -c's), seconds to
    the microsecond; null when not measured (see docs/json.md, "tcp_info")."""
    if measure is None:
        return dict.fromkeys(_MEASURED_KEYS)
    send, receive = _rounded(measure.send, 1), _rounded(measure.receive, 1)
    return {"send_bytes_per_sec": send, "receive_bytes_per_sec": receive,
            "rate_seconds": None if send is None else _rounded(measure.seconds, 6),
            "seen_in_state_seconds": _rounded(measure.seen, 6)}


_MEASURED_KEYS = tuple(key for key, _type in MEASURED_JSON)


def tcp_info_json(ext: Extensions, measure: Measure | None = None) -> dict[str, Any] | None:
    info: TcpInfo | None = ext.info
    if info is None:
        return None
    v = info._values
    values = list(_PLAIN_GET(v))
    for index, shift, mask in _BIT_GETS:
        raw = v[index]
        values.append(None if raw is None else raw >> shift & mask)
    out = dict(zip(_JSON_KEYS, values))
    out["congestion"] = None if ext.congestion is None else json_text(ext.congestion)
    out["option_names"] = list(info.option_names())
    out.update(measured_json(measure))
    return out


def mptcp_info_json(ext: Extensions) -> dict[str, Any] | None:
    """Every field of ``struct mptcp_info`` (docs/json.md, "mptcp_info"), ``null`` past what
    the kernel reports, and the flags by name."""
    info = ext.mptcp
    if info is None:
        return None
    out: dict[str, Any] = info.as_dict()
    out["flag_names"] = info.flag_names()
    return out


# The row's extension objects: JSON column -> (the groups that fill it, its keys in order). CSV
# spreads each over a column per key (render/csvout.spread_columns).
EXTENSION_OBJECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "timer": (("timer", "times"), TIMER_JSON),
    "memory": (("memory",), tuple(key for _name, key in MEMORY_JSON)),
    "tcp_info": (("tcp_info", "times"), tuple(key for key, _type in TCP_INFO_SCHEMA)),
}


def extension_encoder(groups: tuple[str, ...]
                      ) -> Callable[[Extensions | None, bool, Measure | None], dict[str, Any]] | None:
    """``(ext, ipv4, measure) -> the row's extension objects`` for the groups asked, or None
    when none is asked (the rows keep their nulls)."""
    if not groups:
        return None

    def encode(ext: Extensions | None, ipv4: bool, measure: Measure | None = None
               ) -> dict[str, Any]:
        return extension_json(ext, groups, ipv4, measure)
    return encode


def extension_json(ext: Extensions | None, groups: tuple[str, ...], ipv4: bool = True,
                   measure: Measure | None = None) -> dict[str, Any]:
    """The row's ``dscp``, ``timer``, ``memory``, ``tcp_info`` and ``mptcp_info`` (``null``
    when not asked for or not reported for this socket). ``measure``: interval mode's, in
    ``tcp_info`` (``measured_json``)."""
    out: dict[str, Any] = {"dscp": None, "timer": None, "memory": None, "tcp_info": None,
                           "mptcp_info": None}
    if ext is None:
        return out
    if "tos" in groups:
        out["dscp"] = ext.dscp(ipv4)
    if "timer" in groups or "times" in groups:
        out["timer"] = timer_json(ext.timer)
    if "memory" in groups:
        out["memory"] = memory_json(ext)
    if "tcp_info" in groups or "times" in groups:
        out["tcp_info"] = tcp_info_json(ext, measure)
        out["mptcp_info"] = mptcp_info_json(ext)
    return out
