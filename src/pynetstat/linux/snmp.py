"""Pure parsers of the kernel's protocol counters: /proc/net/snmp, /proc/net/netstat, /proc/net/snmp6.

Two formats exist. /proc/net/snmp and /proc/net/netstat print each group as a pair of lines, the
names then the values, both starting with the group name (net/ipv4/proc.c, ``snmp_seq_show``)::

    Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens
    Tcp: 1 200 120000 -1 16

/proc/net/snmp6 prints one ``name value`` per line, the group folded into the name
(net/ipv6/proc.c, ``snmp6_seq_show``)::

    Ip6InReceives                   \t1
    Udp6InDatagrams                 \t4

Both give ``{group: {name: value}}``. Values are integers; most are unsigned counters, a few are
signed settings (``Tcp MaxConn`` is -1: "no limit", RFC 2012).
"""

from __future__ import annotations

from pynetstat.errors import ParseError


def parse_paired(text: str, path: str) -> dict[str, dict[str, int]]:
    """Parse the header/value line pairs of /proc/net/snmp or /proc/net/netstat.

    >>> parse_paired("Udp: InDatagrams NoPorts\\nUdp: 29 0\\n", "/proc/net/snmp")
    {'Udp': {'InDatagrams': 29, 'NoPorts': 0}}
    >>> parse_paired("Tcp: RtoAlgorithm MaxConn\\nTcp: 1 -1\\n", "/proc/net/snmp")
    {'Tcp': {'RtoAlgorithm': 1, 'MaxConn': -1}}

    A value line whose group differs from its header, a count of values that differs from the
    count of names, a non-integer value or a header without its value line raises ``ParseError``.
    """
    groups: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    line_no = 0
    while line_no < len(lines):
        header = lines[line_no]
        line_no += 1
        if not header.strip():
            continue
        group, sep, names_text = header.partition(":")
        if not sep or not group or " " in group:
            raise ParseError(path, line_no, header, "expected 'Group: names'")
        if line_no >= len(lines):
            raise ParseError(path, line_no, header, "header without a value line")
        values_line = lines[line_no]
        line_no += 1
        vgroup, vsep, values_text = values_line.partition(":")
        if not vsep or vgroup != group:
            raise ParseError(path, line_no, values_line, f"expected the values of {group}")
        names = names_text.split()
        values = values_text.split()
        if len(names) != len(values):
            raise ParseError(path, line_no, values_line,
                             f"{len(values)} values for {len(names)} names")
        try:
            groups[group] = {name: int(value) for name, value in zip(names, values)}
        except ValueError:
            raise ParseError(path, line_no, values_line, "value is not an integer") from None
    return groups


def parse_snmp6(text: str, path: str) -> dict[str, dict[str, int]]:
    """Parse /proc/net/snmp6 (or a per-interface /proc/net/dev_snmp6/<if>) into groups.

    The group is the name up to and including its ``6``: every snmp6 prefix ends so (``Ip6``,
    ``Icmp6``, ``Udp6``, ``UdpLite6``).

    >>> parse_snmp6("Ip6InReceives    \\t1\\nIcmp6OutType135 \\t2\\n", "/proc/net/snmp6")
    {'Ip6': {'InReceives': 1}, 'Icmp6': {'OutType135': 2}}

    A line that is not exactly ``name value``, a name without a ``6`` group prefix, or a
    non-integer value raises ``ParseError``. (Per-interface files start with an ``ifIndex``
    line; it is kept as group ``""``.)
    """
    groups: dict[str, dict[str, int]] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ParseError(path, line_no, line, "expected 'name value'")
        name, value = fields
        cut = name.find("6") + 1
        if name == "ifIndex":
            cut = 0
        elif cut <= 1 or cut == len(name):
            raise ParseError(path, line_no, line, "name without a group prefix")
        try:
            groups.setdefault(name[:cut], {})[name[cut:]] = int(value)
        except ValueError:
            raise ParseError(path, line_no, line, "value is not an integer") from None
    return groups
