"""-s in net-tools' wording (statistics.c ``process_fd``, ``process6_fd``, ``printval``), from the
counters linux/counters.py collects.

net-tools prints group by group in the file's order. A counter its table knows prints as a
sentence at indent 4 (or 8 under an ICMP histogram title); one it does not know prints as
``Name: value`` when not 0, at the indent of the line before it (net-tools keeps that indent in a
global, ``state``, across groups it has no table for). Groups it has no table for (IcmpMsg,
UdpLite, IpExt, ...) are always shown; the others only when -s alone, or their switch, asks.
"""

from __future__ import annotations

from pynetstat.nettools.snmp_words import GROUPS, GROUPS6

TYPE_CHECKING = False
if TYPE_CHECKING:
    Row = tuple[str, str, str]  # (counter name, sentence, kind): snmp_words
    Table = tuple[Row, ...]

_INDENT = {"number": 4, "opt_number": 4, "i_forward": 4, "i_inp_icmp": 8, "i_outp_icmp": 8,
           "i_rto_alg": 4}
_TITLES = {"i_inp_icmp": "ICMP input histogram:", "i_outp_icmp": "ICMP output histogram:"}
_U64 = (1 << 64) - 1


def bsearch(table: Table, name: str) -> Row | None:
    """glibc ``bsearch`` with ``strcmp``: the row named ``name``, or None; on an unsorted table
    it misses what net-tools misses."""
    low, high = 0, len(table)
    while low < high:
        mid = (low + high) // 2
        title = table[mid][0]
        if name < title:
            high = mid
        elif name > title:
            low = mid + 1
        else:
            return table[mid]
    return None


class _Printer:
    def __init__(self, shown: set[str]):
        self.shown = shown
        self.state = "number"
        self.lines: list[str] = []

    def group(self, title: str, tables: dict[str, tuple[Table, str]]) -> tuple[Table, bool]:
        """``newtable``: the group's table and whether it is shown; ``None`` table: unknown."""
        found = tables.get(title)
        if found is None:
            self.lines.append(f"{title}:")
            return (), True
        table, switch = found
        on = switch in self.shown
        if on:
            self.lines.append(f"{title}:")
        self.state = "number"
        return table, on

    def value(self, table: Table, name: str, value: int) -> None:
        value &= _U64  # strtoull
        row = bsearch(table, name) if table else None
        if row is None:
            if value:
                self.lines.append(" " * _INDENT[self.state] + f"{name}: {value}")
            return
        _name, sentence, kind = row
        if "I_STATIC" in kind or not sentence:
            return
        titled = "I_TITLE" in kind
        kind = kind.split("|")[0]
        if titled and self.state != kind:
            self.lines.append(" " * _INDENT[self.state] + _TITLES[kind])
        text = ""
        if kind == "opt_number":
            text = sentence % value if value else ""
        elif kind == "number":
            text = sentence % value
        elif kind == "i_forward":
            kind = "number"
            text = sentence % ("enabled" if value == 2 else "disabled")
        elif kind in _TITLES:
            text = sentence % value if value > 0 else ""
        if text:
            self.lines.append(" " * _INDENT[kind] + text)
        self.state = kind


def render(groups: dict[str, dict[str, int]], shown: set[str], ipv6: bool) -> str:
    """``groups`` as counters.collect gives them ({group: {name: value}}, file order); ``shown``
    the switches -s was given ({"tcp", "udp", "raw", "sctp"} for -s alone); ``ipv6``: -6
    (/proc/net/snmp6, then the Tcp group of /proc/net/snmp)."""
    printer = _Printer(shown)
    if not ipv6:
        for title, counters in groups.items():
            if title.endswith("6") or not title:
                continue
            table, on = printer.group(title, GROUPS)
            if on:
                for name, value in counters.items():
                    printer.value(table, name, value)
    else:
        for title, counters in groups.items():
            if not title.endswith("6"):
                continue
            table, on = printer.group(title, GROUPS6)
            if on:
                for name, value in counters.items():
                    printer.value(table, title + name, value)
        if "Tcp" in groups:
            table, on = printer.group("Tcp", GROUPS)
            if on:
                for name, value in groups["Tcp"].items():
                    printer.value(table, name, value)
    return "".join(line + "\n" for line in printer.lines)


def shown_groups(groups: dict[str, dict[str, int]], shown: set[str], ipv6: bool
                 ) -> dict[str, dict[str, int]]:
    """``-s --json``: the groups ``render`` prints, with every counter the kernel gives in them
    (by the kernel's names, values as read): ``{"Tcp": {"ActiveOpens": 12, ...}, ...}``."""
    out: dict[str, dict[str, int]] = {}
    titles = [t for t in groups if t.endswith("6")] + ["Tcp"] if ipv6 else \
        [t for t in groups if t and not t.endswith("6")]
    for title in titles:
        if title not in groups:
            continue
        found = (GROUPS6 if ipv6 and title != "Tcp" else GROUPS).get(title)
        if found is None or found[1] in shown:
            out[title] = dict(groups[title])
    return out
