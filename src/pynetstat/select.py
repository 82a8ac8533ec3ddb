"""Filters (issue 14): option values -> immutable filter records -> kept sockets, and what of them
the kernel can do itself.

One option value reads ``[!]ITEM[,ITEM...]``: the items are any-of, a leading ``!`` negates the
whole value, and a socket must meet every condition (each occurrence of an option is one).
docs/filters.md says what each option's items mean, and the choices made: ss's state groups,
SYN_RECV and NEW_SYN_RECV as one state, an IPv4 address and its IPv4-mapped form as one address,
a ``%ZONE`` as "also bound to that interface".

``parse_filter`` gives a ``Filter``; ``Filter.bind`` resolves interface names and gives the
``Selection`` a collector uses: ``request_states`` for the request's state mask, ``kernel_terms``
for ``linux.bytecode.compile_terms``, ``select(batch)`` for every condition on the socket's own
columns (cheap after the kernel has dropped most sockets, and the only filter when the sockets
came from /proc or a recording), ``owner_terms`` for the owner walk.
"""

from __future__ import annotations

from _socket import AF_INET, AF_INET6, inet_pton
from itertools import compress
from operator import and_, not_, or_

from pynetstat.errors import UsageError
from pynetstat.model.filters import (
    EITHER,
    KNOWN_STATES,
    LOCAL,
    MAPPED_PREFIX,
    REMOTE,
    STATE_GROUPS,
    STATE_NAMES,
    Devices,
    Hosts,
    Interfaces,
    Net,
    Owners,
    Ports,
    States,
    Users,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from pwd import struct_passwd

    from pynetstat.model.sockets import SocketBatch

    # A condition of a Filter; a bound one (a Selection's) has Devices for Interfaces.
    Term = States | Ports | Hosts | Interfaces | Devices | Users | Owners
    BoundTerm = States | Ports | Hosts | Devices | Users | Owners
    ColumnTerm = Ports | Hosts | Devices | Users  # what select() checks on a batch's columns
    Mask = Callable[[SocketBatch], Iterable[object]]  # batch -> a truth value per socket
    # (batch, ports, addresses) of one end -> a truth value per socket
    EndMask = Callable[[SocketBatch, Sequence[int], Sequence[str]], Iterable[object]]
    GetPwNam = Callable[[str], struct_passwd]

# --- parsing --------------------------------------------------------------------------------------
def _items(option: str, value: str) -> tuple[bool, list[str]]:
    negated = value.startswith("!")
    items = [item.strip() for item in (value[1:] if negated else value).split(",")]
    if not all(items):
        raise _bad(option, "empty value in", value, "[!]ITEM[,ITEM...]")
    return negated, items


def _number(text: str, below: int) -> int | None:
    """``"443"`` -> 443 when under ``below``; ``None`` for anything else (``"²"`` and ``"١"``
    are digits to ``str.isdigit`` but not to a user)."""
    if text.isascii() and text.isdigit() and int(text) < below:
        return int(text)
    return None


def _bad(option: str, what: str, item: str, accepted: str) -> UsageError:
    error = UsageError(f"--{option}: {what} {item!r}: expected {accepted}")
    error.usage = False  # the line names the value and what is accepted: no usage line after it
    return error


def parse_states(option: str, value: str) -> States:
    negated, items = _items(option, value)
    mask = 0
    for item in items:
        key = item.upper().replace("-", "_")
        bits = STATE_GROUPS.get(key) or STATE_NAMES.get(key)
        if bits is None:
            raise _bad(option, "unknown state", item,
                       "a state (LISTENING, ESTABLISHED, TIME_WAIT, SYN_SENT, CLOSE_WAIT, ... as "
                       "netstat, Linux or ss name them) or a group: all, connected, synchronized, "
                       "bucket, big")
        mask |= bits
    return States(mask=KNOWN_STATES & ~mask if negated else mask)


def service_ports(text: str) -> dict[str, frozenset[int]]:
    """Services-file text to ``{lowercase name or alias: ports}``, TCP and UDP together.

    ``"https 443/tcp\\nhttps 443/udp\\nwww 80/tcp http"`` -> ``{"https": {443}, "www": {80}, "http": {80}}``
    """
    table: dict[str, set[int]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        port, _, proto = fields[1].partition("/") if len(fields) > 1 else ("", "", "")
        number = _number(port, 65536)
        if number is not None and proto.lower() in ("tcp", "udp"):
            for name in (fields[0], *fields[2:]):
                table.setdefault(name.lower(), set()).add(number)
    return {name: frozenset(ports) for name, ports in table.items()}


def parse_ports(option: str, value: str, end: str,
                services: Callable[[], Mapping[str, frozenset[int]]]) -> Ports:
    negated, items = _items(option, value)
    accepted = "a port 0-65535, a range LOW-HIGH or a service name (https)"
    ranges: list[tuple[int, int]] = []
    for item in items:
        low, dash, high = item.partition("-")
        if item.isdigit() or (dash and low.isdigit() and high.isdigit()):
            lo, hi = _number(low, 65536), _number(high or low, 65536)
            if lo is None or hi is None or lo > hi:
                raise _bad(option, "bad port", item, accepted)
            ranges.append((lo, hi))
            continue
        ports = services().get(item.lower())
        if not ports:
            raise _bad(option, "unknown service", item, accepted)
        ranges.extend((port, port) for port in sorted(ports))
    return Ports(end=end, ranges=tuple(ranges), negated=negated)


def parse_net(option: str, item: str) -> Net:
    """``"10.1.2.3/8"`` -> ``Net(4, b"\\n\\0\\0\\0", 8, None, None)``; ``"fe80::/64%eth0"`` keeps zone ``"eth0"``."""
    accepted = ("an IPv4 or IPv6 address with an optional /PREFIX and %ZONE "
                "(10.0.0.0/8, ::1, fe80::/64%eth0)")
    text, slash, prefix_text = item.partition("/")
    zone = None
    if "%" in prefix_text:
        prefix_text, _, zone = prefix_text.partition("%")
    elif "%" in text:
        text, _, zone = text.partition("%")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    family = 6 if ":" in text else 4
    try:
        packed = inet_pton(AF_INET6 if family == 6 else AF_INET, text)
    except (OSError, ValueError):  # ValueError: a NUL in the text
        raise _bad(option, "bad address", item, accepted) from None
    width = len(packed) * 8
    if slash and _number(prefix_text, width + 1) is None:
        raise _bad(option, "bad prefix length in", item, accepted)
    if zone is not None and not zone:
        raise _bad(option, "empty zone in", item, accepted)
    prefix = int(prefix_text) if slash else width
    if family == 6 and prefix >= 96 and packed[:12] == MAPPED_PREFIX:
        family, packed, prefix, width = 4, packed[12:], prefix - 96, 32
    number = int.from_bytes(packed, "big") >> (width - prefix) << (width - prefix)
    return Net(family=family, packed=number.to_bytes(width // 8, "big"), prefix=prefix, zone=zone,
               ifindex=None)


def parse_hosts(option: str, value: str, end: str) -> Hosts:
    negated, items = _items(option, value)
    return Hosts(end=end, nets=tuple(parse_net(option, item) for item in items), negated=negated)


def parse_users(option: str, value: str, getpwnam: GetPwNam | None = None) -> Users:
    negated, items = _items(option, value)
    uids = set()
    for item in items:
        uid = _number(item, 0xFFFFFFFF)  # (uid_t)-1 is no user
        if uid is not None:
            uids.add(uid)
            continue
        if getpwnam is None:
            import pwd

            getpwnam = pwd.getpwnam
        try:
            uids.add(getpwnam(item).pw_uid)
        except (KeyError, ValueError):  # ValueError: a NUL in the name
            raise _bad(option, "unknown user", item, "a user name or a numeric UID") from None
    return Users(uids=frozenset(uids), negated=negated)


def parse_pids(option: str, value: str) -> Owners:
    negated, items = _items(option, value)
    pids = [_number(item, 1 << 22) for item in items]  # PID_MAX_LIMIT, include/linux/threads.h
    for item, pid in zip(items, pids):
        if not pid:
            raise _bad(option, "bad PID", item, "a process ID (1-4194303)")
    return Owners(kind="pid", values=frozenset(pids), negated=negated)  # type: ignore[arg-type]  # no None: checked


def _patterns(kind: str) -> Callable[[str, str], Owners]:
    def parse(option: str, value: str) -> Owners:
        negated, items = _items(option, value)
        return Owners(kind=kind, values=tuple(items), negated=negated)
    return parse


def parse_interfaces(option: str, value: str) -> Interfaces:
    negated, items = _items(option, value)
    for item in items:
        if "/" in item or ":" in item or any(c.isspace() for c in item) or len(item.encode()) > 15:
            raise _bad(option, "bad interface name", item, "an interface name (eth0) or index")
    return Interfaces(names=tuple(items), negated=negated)


# option -> parser(option, value, context) -> record. The options' metavars and help are rows of
# the flag table (flags.py), which every run imports: this module is imported only when a
# filter is given (cli.parse_args).
OPTIONS: dict[str, Callable[[str, str, _Context], Term]] = {
    "state": lambda o, v, c: parse_states(o, v),
    "port": lambda o, v, c: parse_ports(o, v, EITHER, c.services),
    "lport": lambda o, v, c: parse_ports(o, v, LOCAL, c.services),
    "rport": lambda o, v, c: parse_ports(o, v, REMOTE, c.services),
    "addr": lambda o, v, c: parse_hosts(o, v, EITHER),
    "local": lambda o, v, c: parse_hosts(o, v, LOCAL),
    "remote": lambda o, v, c: parse_hosts(o, v, REMOTE),
    "interface": lambda o, v, c: parse_interfaces(o, v),
    "user": lambda o, v, c: parse_users(o, v, c.getpwnam),
    "pid": lambda o, v, c: parse_pids(o, v),
    "process": lambda o, v, c: _patterns("process")(o, v),
    "unit": lambda o, v, c: _patterns("unit")(o, v),
    "container": lambda o, v, c: _patterns("container")(o, v),
}


class _Context:
    """What parsing may look up: the services file (read once, on first use) and the user table."""

    def __init__(self, services_path: str, getpwnam: GetPwNam | None):
        self.services_path = services_path
        self.getpwnam: GetPwNam | None = getpwnam
        self._services: Mapping[str, frozenset[int]] | None = None

    def services(self) -> Mapping[str, frozenset[int]]:
        if self._services is None:
            try:
                with open(self.services_path, encoding="utf-8", errors="replace") as f:
                    self._services = service_ports(f.read())
            except OSError:
                self._services = {}
        return self._services


def parse_filter(values: Iterable[tuple[str, str]], services_path: str = "/etc/services",
                 getpwnam: GetPwNam | None = None) -> Filter:
    """``[("port", "80,443"), ("state", "!listening")]`` (option, value; command-line order) ->
    ``Filter``. A malformed value raises ``UsageError`` naming it and what is accepted."""
    context = _Context(services_path, getpwnam)
    return Filter(tuple(OPTIONS[option](option, value, context) for option, value in values))


def parse_words(text: str, services_path: str = "/etc/services",
                getpwnam: GetPwNam | None = None) -> Filter:
    """The filter options as typed on a command line (the live view's filter box) -> ``Filter``:
    ``"--lport 80,443 --state '!listening'"``, ``--lport=80`` too. An unknown option, a missing
    value or a malformed one raises ``UsageError`` (one line, no usage after it).

    >>> parse_words("--lport=80 --state established")
    Filter((Ports('local', ((80, 80),), False), States(2)))
    """
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as e:
        raise _bad("filter", str(e), text, "options such as --lport 80 --state established") \
            from None
    pairs = []
    i = 0
    while i < len(words):
        name, eq, value = words[i].partition("=")
        if not name.startswith("--") or name[2:] not in OPTIONS:
            raise _bad("filter", "unknown option", words[i],
                       " ".join(f"--{option}" for option in OPTIONS))
        if not eq:
            i += 1
            if i == len(words):
                raise _bad(name[2:], "no value after", name, "a value")
            value = words[i]
        pairs.append((name[2:], value))
        i += 1
    return parse_filter(pairs, services_path, getpwnam)


class Filter:
    """The parsed conditions, all of which a socket must meet. Empty: keeps everything."""

    __slots__ = ("terms",)

    def __init__(self, terms: tuple[Term, ...] = ()):
        self.terms = terms

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __repr__(self) -> str:
        return f"Filter({self.terms!r})"

    def interface_names(self) -> set[str]:
        """The interface names ``bind`` needs resolved (``--interface`` and address zones)."""
        names = {name for t in self.terms if isinstance(t, Interfaces) for name in t.names}
        names.update(n.zone for t in self.terms if isinstance(t, Hosts) for n in t.nets if n.zone)
        return names

    def bind(self, links: Mapping[str, tuple[int, Sequence[str]]] | None = None) -> Selection:
        """Resolve interfaces: ``links`` maps a name to ``(ifindex, its addresses)``. A name not
        there that is a number is an index; any other raises ``UsageError``."""
        links = links or {}

        def index(option: str, name: str) -> int:
            if name in links:
                return links[name][0]
            ifindex = _number(name, 1 << 31)
            if ifindex:
                return ifindex
            raise _bad(option, "unknown interface", name, "an interface name or index")

        bound: list[BoundTerm] = []
        nets: tuple[Net, ...] | list[Net]
        for term in self.terms:
            if isinstance(term, Hosts) and any(net.zone for net in term.nets):
                nets = tuple(Net(family=n.family, packed=n.packed, prefix=n.prefix, zone=n.zone,
                                 ifindex=index("addr", n.zone) if n.zone else None)
                             for n in term.nets)
                term = Hosts(end=term.end, nets=nets, negated=term.negated)
            elif isinstance(term, Interfaces):
                nets = [parse_net("interface", a)
                        for name in term.names for a in links.get(name, (0, ()))[1]]
                # A socket on a link-local IPv6 address is bound to its interface (inet6_bind
                # wants the scope id), which the index test sees; fe80::1 of another interface
                # must not match.
                nets = tuple(n for n in nets
                             if not (n.family == 6 and n.packed[0] == 0xFE and n.packed[1] >= 0x80
                                     and n.packed[1] < 0xC0))
                term = Devices(ifindexes=frozenset(index("interface", n) for n in term.names),
                               nets=nets, negated=term.negated)
            bound.append(term)
        return Selection(tuple(bound))


class Selection:
    """A bound ``Filter``: what goes into the request, and the predicate over socket columns."""

    __slots__ = ("states", "by_state", "kernel_terms", "column_terms", "owner_terms", "devices",
                 "_masks")

    def __init__(self, terms: tuple[BoundTerm, ...]):
        self.states = KNOWN_STATES
        self.by_state = False  # a --state was given: it starts from every state, as with -a
        for term in terms:
            if isinstance(term, States):
                self.states &= term.mask
                self.by_state = True
        # What inet_diag bytecode can say (linux/bytecode.py); states go in the request's mask.
        self.kernel_terms = tuple(t for t in terms if isinstance(t, (Ports, Hosts, Devices)))
        self.column_terms = tuple(t for t in terms if not isinstance(t, (States, Owners)))
        self.owner_terms = tuple(t for t in terms if isinstance(t, Owners))
        self.devices = tuple(t for t in terms if isinstance(t, Devices))  # -e, -r: interface rows
        # One mask maker per condition, made once: its port table and address memo serve every
        # batch (a dump comes in runs of a few hundred sockets).
        self._masks: list[Mask] = [_mask_maker(term) for term in self.column_terms]
        if self.states != KNOWN_STATES:
            table = bytes((self.states >> s) & 1 for s in range(256))
            self._masks.insert(0, lambda batch: map(table.__getitem__, batch.state))

    def request_states(self, base: int) -> int:
        """The state mask to ask the kernel for, given the mode's (``connections.ALL_STATES``...)."""
        return base & (self.states | ~KNOWN_STATES)

    def needs_endpoints(self) -> bool:
        """Does a condition look at ports, addresses or interfaces? A kind whose endpoints have
        none (UNIX, packet) meets no such condition, negated or not: it is not listed."""
        return bool(self.kernel_terms)

    def needs_bound_device(self) -> bool:
        """Does a condition look at the interface a socket is bound to (``--interface``, an
        address with a ``%ZONE``)? /proc does not say it."""
        return bool(self.devices) or any(
            net.ifindex is not None for t in self.kernel_terms if isinstance(t, Hosts)
            for net in t.nets)

    def keeps_interface(self, ifindex: int | None) -> bool:
        """``-e``, ``-r``: is the interface ``ifindex`` one the ``--interface`` conditions keep?"""
        return all((ifindex in t.ifindexes) != t.negated for t in self.devices)

    def keep(self, batch: SocketBatch) -> list[int] | None:
        """The positions of the batch's sockets that meet every condition on socket columns
        (owner conditions aside), or ``None`` for all of them. Work is per distinct value (a
        port table, a memo of address texts) and ``map`` over whole columns, all in C."""
        if not self._masks:
            return None
        mask = self._masks[0](batch)
        for make in self._masks[1:]:
            mask = map(and_, mask, make(batch))
        return list(compress(range(len(batch)), mask))

    def select(self, batch: SocketBatch) -> SocketBatch | None:
        """The batch with only the kept sockets (the batch itself if all are; ``None`` if none)."""
        keep = self.keep(batch)
        if keep is None or len(keep) == len(batch):
            return batch
        return batch.take(keep) if keep else None


class _AddressMemo(dict[str, bool]):
    """Address text -> does it match one of the nets; computed once per distinct address."""

    def __init__(self, nets: Iterable[Net]):
        super().__init__()
        self.matchers = [net.matcher() for net in nets]

    def __missing__(self, address: str) -> bool:
        family = 6 if ":" in address else 4
        packed = inet_pton(AF_INET6 if family == 6 else AF_INET, address)
        hit = self[address] = any(match(family, packed) for match in self.matchers)
        return hit


def _on_ends(end: str, column: EndMask) -> Mask:
    """``batch -> mask`` of one end (``column(batch, ports, addresses)``), or either end's or-ed."""
    if end == LOCAL:
        return lambda b: column(b, b.local_port, b.local_address)
    if end == REMOTE:
        return lambda b: column(b, b.remote_port, b.remote_address)
    return lambda b: map(or_, column(b, b.local_port, b.local_address),
                         column(b, b.remote_port, b.remote_address))


def _mask_maker(term: ColumnTerm) -> Mask:
    """``batch -> iterable of truth values``, one per socket, for one condition."""
    if isinstance(term, Ports):
        table = bytearray(65536)
        for lo, hi in term.ranges:
            table[lo : hi + 1] = b"\x01" * (hi + 1 - lo)
        make = _on_ends(term.end, lambda _b, ports, _a: map(table.__getitem__, ports))
    elif isinstance(term, Hosts):
        make = _on_ends(term.end, _hosts_mask(term.nets))
    elif isinstance(term, Devices):
        memo = _AddressMemo(term.nets)
        ifindexes = term.ifindexes
        make = lambda b: map(or_, map(ifindexes.__contains__, b.scope),  # noqa: E731
                             map(memo.__getitem__, b.local_address))
    else:  # Users
        uids = term.uids
        make = lambda b: map(uids.__contains__, b.uid)  # noqa: E731
    if term.negated:
        return lambda batch: map(not_, make(batch))
    return make


def _hosts_mask(nets: tuple[Net, ...]) -> EndMask:
    """Any of the nets: unzoned ones on the address alone, zoned ones also on the bound device
    (the batch's scope column, which holds the socket's bound interface)."""
    plain = _AddressMemo([net for net in nets if net.ifindex is None])
    zoned = [(ifindex, _AddressMemo([net for net in nets if net.ifindex == ifindex]))
             for ifindex in sorted({net.ifindex for net in nets if net.ifindex is not None})]

    def column(batch: SocketBatch, _ports: Sequence[int], addresses: Sequence[str]
               ) -> Iterable[object]:
        mask = map(plain.__getitem__, addresses)
        for ifindex, memo in zoned:
            mask = map(or_, mask, map(and_, map(memo.__getitem__, addresses),
                                      map(ifindex.__eq__, batch.scope)))
        return mask
    return column
