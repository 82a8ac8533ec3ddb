"""How one socket's cells read: addresses, ports, state, PIDs. Shared by the text and JSON renderers."""

from __future__ import annotations

from pynetstat.kinds import LABELS, WITH_STATE
from pynetstat.model.sockets import spec_state_name
from pynetstat.textsafe import safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pynetstat.model.sockets import InetSocket
    from pynetstat.resolve import Names

PROTO_LABELS = LABELS  # InetSocket.proto -> the table's Proto cell, from the kind table


class Memo(dict):
    """``key -> make(key)``, made on first use and kept: a listing of 200,000 rows has a few
    distinct addresses, states and owner sets, so each cell's text is made once per value and
    looked up (``map(memo.__getitem__, column)``, in C) per row."""

    def __init__(self, make: Callable, known: dict | None = None):
        super().__init__(known or ())
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value
WILDCARD = {"0.0.0.0", "::"}


def is_link_local(address: str) -> bool:
    """fe80::/10 (RFC 4291 2.5.6: a first group of fe80 to febf) or 169.254.0.0/16 (RFC 3927)."""
    head = address[:5].lower()
    return ((head[:3] in _FE80_10 and head[3:4] in _HEX and head[4:5] == ":")
            or address.startswith("169.254."))


_FE80_10 = frozenset(("fe8", "fe9", "fea", "feb"))  # the 10 bits 1111 1110 10, then any 2 bits
_HEX = frozenset("0123456789abcdef")


def is_ipv4_mapped(address: str) -> bool:
    """``"::ffff:127.0.0.1"`` is an IPv4 peer of an IPv6 socket."""
    return address.startswith("::ffff:") and "." in address


def host_text(address: str, family: int, scope: int, ifname: Callable[[int], str],
              bound: bool = False) -> str:
    """``127.0.0.1`` / ``[::1]`` / ``[fe80::1%eth0]``: IPv6 in brackets, link-local with its
    interface. ``bound``: the local end, whose ``scope`` is also the device a socket is bound to
    (SO_BINDTODEVICE), shown as ss shows it: ``0.0.0.0%va``, ``[::%va]``."""
    if scope and (bound or (family == 6 and is_link_local(address))):
        # Linux allows any byte in an interface name but '/', ':' and white space: escape it.
        zoned = f"{address}%{safe_token(ifname(scope))}"
        return zoned if family == 4 else f"[{zoned}]"
    return address if family == 4 else f"[{address}]"


def state_text(sock: InetSocket) -> str:
    """The spec's state name for kinds with a State column (TCP); UDP has none in the spec's table."""
    return spec_state_name(sock.state) if sock.proto in WITH_STATE else ""


def pid_text(pids: tuple[int, ...]) -> str:
    """``(812,) -> "812"``; ``(812, 813, 814) -> "812"``: one integer, the lowest PID, as Windows
    prints it (scripts and jc read the last column as a PID; ``812+2`` read as 8122). -b lists
    every holder under the row, --json gives each owner. ``() -> "-"`` (no visible owner: never
    an invented 0)."""
    return str(min(pids)) if pids else "-"


def endpoint_cells(sock: InetSocket, ifname: Callable[[int], str],
                   names: Names | None) -> tuple[str, str]:
    """The Local Address and Foreign Address cells.

    Numeric (``names is None``) they read ``127.0.0.1:5432``. With names, ports become service
    names where the services database has one, and the foreign host its name where the resolver
    answered in time (``Names.display_host``: its first label, all of it with -f); local addresses stay numeric, as in the spec's netstat. An unconnected UDP
    socket's foreign address is ``*:*``.
    """
    local_host = host_text(sock.local_address, sock.family, sock.scope, ifname, bound=True)
    lport: int | str = sock.local_port
    rport: int | str = sock.remote_port
    remote_host = host_text(sock.remote_address, sock.family, sock.scope, ifname)
    if names is not None:
        lport = names.service(sock.local_port, sock.proto) or lport
        if sock.remote_port:
            rport = names.service(sock.remote_port, sock.proto) or rport
        name = names.display_host(sock.remote_address)
        if name:
            remote_host = safe_token(name)
    local = f"{local_host}:{lport}"
    if sock.proto not in WITH_STATE and sock.remote_port == 0 and sock.remote_address in WILDCARD:
        return local, "*:*"
    return local, f"{remote_host}:{rport}"
