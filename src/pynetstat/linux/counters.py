"""Protocol counters (-s): /proc/net/snmp, /proc/net/netstat and /proc/net/snmp6.

These counters have no netlink source that covers them all, so /proc is the only source. A
missing file (no IPv6: no snmp6) is recorded, not a loss; one that cannot be read or is malformed
is a note, and the other files' counters are still given.
"""

from __future__ import annotations

from pynetstat.errors import ParseError
from pynetstat.linux.snmp import parse_paired, parse_snmp6
from pynetstat.model.stats import CountersSnapshot, ProtocolCounters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.options import Options

_FILES = (("net/snmp", parse_paired), ("net/netstat", parse_paired), ("net/snmp6", parse_snmp6))


def collect(opts: Options | None, procfs: ProcFS, netlink: object = None) -> CountersSnapshot:
    """Read the three counter files (``netlink`` is unused: the signature is every collector's)."""
    groups: dict[str, dict[str, int]] = {}
    files, missing, unreadable = [], [], {}
    for rel, parse in _FILES:
        path = procfs.path(rel)
        try:
            text = procfs.read_text(rel)
        except FileNotFoundError:
            missing.append(path)
            continue
        except OSError as e:
            unreadable[path] = e.strerror or str(e)
            continue
        try:
            groups.update(parse(text, path))
        except ParseError as e:
            unreadable[path] = str(e)
            continue
        files.append(path)
    notes = [f"cannot read {path}: {why}" if not why.startswith(path) else f"skipped {why}"
             for path, why in unreadable.items()]
    return CountersSnapshot(ProtocolCounters(groups, files, missing), unreadable=unreadable,
                            notes=notes)
