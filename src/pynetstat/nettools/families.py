"""``-v`` in the net-tools face: the address families net-tools tries and this system lacks, said
as net-tools says them (netstat.c ``INFO_GUTS1``, ``ipx_info``, ``ax25_info``, ...: ``ESYSNOT``),
and the ones it has that pynetstat does not list.

net-tools 2.10 tries, in this order, the socket tables of every family it was built for (all of
them when no kind is named; else the named ones) and says on stderr which it could not open:
always for a family named on the command line, for the others only with ``-v``. Its -v changes
nothing else in a listing, nor in -r, -i, -g or -s.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.nettools.flags import NetToolsOptions

# (kind, net-tools' name, the /proc/net files it opens in turn (one found is enough), is the
# kind listed by this face). In netstat.c main's order; Bluetooth is not built into Debian's
# net-tools 2.10 and says nothing.
ROWS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("tcp", "AF INET (tcp)", ("net/tcp",), True),
    ("sctp-eps", "AF INET (sctp)", ("net/sctp/eps",), False),
    ("sctp-assocs", "AF INET (sctp)", ("net/sctp/assocs",), False),
    ("udp", "AF INET (udp)", ("net/udp",), True),
    ("udplite", "AF INET (udplite)", ("net/udplite",), False),
    ("raw", "AF INET (raw)", ("net/raw",), True),
    ("igmp", "AF INET (igmp)", ("net/igmp",), True),
    ("unix", "AF UNIX", ("net/unix",), True),
    ("ipx", "AF IPX", ("net/ipx/socket", "net/ipx"), False),
    ("ax25", "AF AX25", ("net/ax25",), False),
    ("x25", "AF X25", ("net/x25",), False),
    ("netrom", "AF NETROM", ("net/nr",), False),
    ("rose", "AF ROSE", ("net/rose",), False),
)
# The net-tools kinds each option of this face names (-4/-6 without a kind: net-tools'
# flag_noprot, every Internet kind and no other family).
_NAMED = {"tcp": ("tcp",), "udp": ("udp",), "raw": ("raw",), "unix": ("unix",),
          "groups": ("igmp",)}
_INET = ("tcp", "sctp-eps", "sctp-assocs", "udp", "udplite", "raw")


def tried(opts: NetToolsOptions) -> list[tuple[str, str, tuple[str, ...], bool]]:
    """The rows net-tools opens for these options, in its order (an Internet kind's IPv4 table
    only when IPv4 is listed: ``INFO_GUTS6``; SCTP's endpoints with -a or -l, its associations
    without -l)."""
    named = {kind for option, kinds in _NAMED.items() if getattr(opts, option) for kind in kinds}
    noprot = bool(opts.inet or opts.inet6) and not named & {"tcp", "udp", "raw"}
    if noprot:
        named |= set(_INET)
    ipv4 = opts.inet or not opts.inet6
    rows = []
    for row in ROWS:
        kind = row[0]
        if kind == "igmp" and "igmp" not in named:
            continue
        if named and kind not in named:
            continue
        if row[1].startswith("AF INET") and named and not ipv4:
            continue
        if kind == "sctp-eps" and not (opts.all or opts.listening):
            continue
        if kind == "sctp-assocs" and not (opts.all or not opts.listening):
            continue
        rows.append(row)
    return rows


def _opens(proc: ProcFS, rel: str) -> bool:
    """Can the table be opened (net-tools' test: ENOENT and EACCES are "no support")? Opened
    only: /proc/net/tcp at 200,000 sockets is megabytes that a listing has already read."""
    import os

    try:
        os.close(os.open(proc.path(rel), os.O_RDONLY))
    except OSError:
        return False
    return True


def _entries(proc: ProcFS, rel: str) -> int:
    """The lines after the header of a /proc/net table (a family this face does not list)."""
    try:
        return max(proc.read_bytes(rel).count(b"\n") - 1, 0)
    except OSError:
        return 0


def said(opts: NetToolsOptions, proc: ProcFS) -> list[str]:
    """The stderr lines of a socket listing: net-tools' "no support" line for each family tried
    and missing (named ones always, the others with -v, an Internet one never under -4/-6
    alone), then, with -v, a line for each family present with sockets that this face does not
    list."""
    named = any(getattr(opts, option) for option in _NAMED)
    noprot = bool(opts.inet or opts.inet6) and not (opts.tcp or opts.udp or opts.raw)
    if not (named or noprot or opts.verbose):
        return []  # net-tools says nothing: not even a table is opened
    lines = []
    unlisted = []
    for _kind, name, files, listed in tried(opts):
        found = next((rel for rel in files if _opens(proc, rel)), None)
        if found is None:
            if not (noprot and name.startswith("AF INET")):
                lines.append(f"netstat: no support for `{name}' on this system.\n")
        elif opts.verbose and not listed and name not in unlisted:
            count = _entries(proc, found)
            if count:
                unlisted.append(name)
                lines.append(f"pynetstat-netstat: {name}: {count} sockets in "
                             f"{proc.path(found)}, which pynetstat does not list.\n")
    return lines
