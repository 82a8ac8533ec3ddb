"""The numeric connection table (render/table.py) against a plain re-statement of its layout.

The table takes two paths: batches whose cells cannot widen a column are formatted straight into
lines (one ``%`` per row), the rest are built cell by cell and measured. Both must print exactly
what the layout says, which this file restates the simple way: every cell as a string, each
column as wide as the spec's minimum or its widest cell plus one blank, measured per block of
rows (a block ends after the batch that brings it to ``BLOCK`` rows), never shrinking, the
heading printed with the first block; a UDP row without a PID column ends after its foreign
address.
"""

from __future__ import annotations

import io
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from pynetstat.model.sockets import SPEC_STATE_NAMES, InetSocket, Owner, SocketBatch
from pynetstat.options import Options
from pynetstat.render.table import BLOCK, ConnectionTable

MIN = [7, 23, 23, 16]


def _expected(batches: list[SocketBatch], pids: bool) -> str:
    widths = list(MIN)
    out = ["\nActive Connections\n\n"]
    heading = ("Proto", "Local Address", "Foreign Address", "State", "PID")[: 5 if pids else 4]
    block: list[list[str]] = []
    started = False

    def emit() -> None:
        nonlocal started
        for i in range(4 if pids else 3):
            widths[i] = max([widths[i]] + [len(cells[i]) + 1 for cells in block])
        if not started:
            started = True
            out.append("  " + "".join(c.ljust(widths[i]) for i, c in enumerate(heading[:-1]))
                       + heading[-1] + "\n")
        for cells in block:
            if not pids and cells[0] == "UDP":
                cells = cells[:3]
            out.append("  " + "".join(c.ljust(widths[i]) for i, c in enumerate(cells[:-1]))
                       + cells[-1] + "\n")
        block.clear()

    for batch in batches:
        for sock, owners in batch.rows():
            host = (lambda a: a) if sock.family == 4 else (lambda a: f"[{a}]")
            local = f"{host(sock.local_address)}:{sock.local_port}"
            foreign = f"{host(sock.remote_address)}:{sock.remote_port}"
            if sock.proto == "udp" and sock.remote_port == 0 and sock.remote_address in ("0.0.0.0", "::"):
                foreign = "*:*"
            state = "" if sock.proto == "udp" else SPEC_STATE_NAMES.get(sock.state, f"UNKNOWN({sock.state})")
            pid = "-" if not owners else str(min(o.pid for o in owners))
            block.append([sock.proto.upper(), local, foreign, state] + ([pid] if pids else []))
        if len(block) >= BLOCK:
            emit()
    if block or not started:
        emit()
    return "".join(out)


def _render(batches: list[SocketBatch], pids: bool) -> str:
    out = io.StringIO()
    table = ConnectionTable(out, Options(all=True, numeric=True, pids=pids), None, str)
    table.write_batches(batches)
    table.close()
    return out.getvalue()


def _batch(proto: str, family: int, rows: list[tuple], owners: list[tuple] | None) -> SocketBatch:
    batch = SocketBatch.from_sockets(proto, family, [
        InetSocket(proto=proto, family=family, state=state, local_address=la, local_port=lp,
                   remote_address=ra, remote_port=rp, scope=0, inode=1000 + i, uid=0, cookie=1 + i,
                   recv_q=0, send_q=0)
        for i, (state, la, lp, ra, rp) in enumerate(rows)])
    if owners is not None:
        batch.owners = tuple(owners)
    return batch


v4 = st.ip_addresses(v=4).map(str)
v6 = st.one_of(st.ip_addresses(v=6).map(str), st.sampled_from(
    ["::", "::1", "2001:db8:1234:5678:9abc:def0:1234:5678", "::ffff:127.0.0.1"]))
owner_sets = st.lists(st.integers(1, 4_000_000), max_size=3, unique=True).map(
    lambda pids: tuple(Owner(p) for p in sorted(pids)))


@st.composite
def batches(draw, pids: bool):
    out = []
    for _ in range(draw(st.integers(0, 6))):
        proto = draw(st.sampled_from(["tcp", "udp"]))
        family = draw(st.sampled_from([4, 6]))
        addr = v4 if family == 4 else v6
        rows = draw(st.lists(st.tuples(st.sampled_from([1, 2, 6, 8, 10, 12, 13, 99]), addr,
                                       st.integers(0, 65535), addr, st.integers(0, 65535)),
                             min_size=1, max_size=12))
        owners = [draw(owner_sets) for _ in rows] if pids else None
        out.append(_batch(proto, family, rows, owners))
    return out


@settings(max_examples=examples(100), deadline=None)
@given(st.booleans().flatmap(lambda pids: st.tuples(st.just(pids), batches(pids))))
def test_table_matches_layout(case):
    pids, drawn = case
    assert _render(drawn, pids) == _expected(drawn, pids)


def test_blocks_widen_only_from_their_block_on():
    """Three blocks: IPv4 rows, then a long IPv6 address (its block's columns widen, and every
    later row keeps the wider columns), then IPv4 again; the heading has the first block's widths."""
    n = BLOCK // 2 + 1
    short = [(1, "127.0.0.1", 40000 + i, "127.0.1.1", 5432) for i in range(n)]
    long6 = "2001:db8:1234:5678:9abc:def0:1234:5678"
    batches = [
        _batch("tcp", 4, short, None), _batch("tcp", 4, short, None),
        _batch("tcp", 4, short, None), _batch("tcp", 6, [(10, long6, 443, "::", 0)], None),
        _batch("udp", 6, [(7, long6, 53, "::", 0)], None), _batch("tcp", 4, short, None),
        _batch("tcp", 4, short, None),
    ]
    text = _render(batches, False)
    assert text == _expected(batches, False)
    lines = text.splitlines()
    assert lines[3].index("Foreign") == 2 + 7 + 23  # the first block set the heading
    wide = [line for line in lines if line.startswith("  TCP    127.0.0.1:")][-1]
    assert wide.index("127.0.1.1") == 2 + 7 + len(f"[{long6}]:443") + 1


def test_link_local_and_mapped_are_not_widened_wrongly():
    """IPv4-mapped and link-local addresses print as inet_ntop spells them (no scope: 0)."""
    rows = [(1, str(ipaddress.ip_address("::ffff:127.0.0.1")), 80, "fe80::1", 1234)]
    batches = [_batch("tcp", 6, rows, None)]
    assert _render(batches, False) == _expected(batches, False)


# --- UNIX batches: kept by column until their block is printed ------------------------------------

def _unix_expected(batches: list, pids: bool) -> str:
    """The layout restated row by row from ``row_cells`` (the reference cells), measured in
    terminal columns (a name may hold wide characters), for UNIX batches mixed with TCP ones."""
    from pynetstat.render.endpoints import row_cells
    from pynetstat.textsafe import ljust, width

    widths = list(MIN)
    out = ["\nActive Connections\n\n"]
    heading = ("Proto", "Local Address", "Foreign Address", "State", "PID")[: 5 if pids else 4]
    block: list[tuple[str, ...]] = []
    started = False

    def emit() -> None:
        nonlocal started
        for i in range(4 if pids else 3):
            widths[i] = max([widths[i]] + [width(cells[i]) + 1 for cells in block])
        if not started:
            started = True
            out.append("  " + "".join(c.ljust(widths[i]) for i, c in enumerate(heading[:-1]))
                       + heading[-1] + "\n")
        for cells in block:
            out.append("  " + "".join(ljust(c, widths[i]) for i, c in enumerate(cells[:-1]))
                       + cells[-1] + "\n")
        block.clear()

    for batch in batches:
        for sock, owners in batch.rows():
            pid = "-" if not owners else str(min(o.pid for o in owners))
            block.append(row_cells(sock, str, None) + ((pid,) if pids else ()))
        if len(block) >= BLOCK:
            emit()
    if block or not started:
        emit()
    return "".join(out)


unix_names = st.one_of(
    st.none(),
    st.tuples(st.binary(max_size=40), st.booleans()),
    st.tuples(st.sampled_from([b"/run/dbus/system_bus_socket", b"@lit", b"50%", b"a b\n",
                               "\u5bb6".encode(), b"x" * 107]), st.booleans()))


@st.composite
def unix_batches(draw, pids: bool):
    from pynetstat.model.sockets import UnixBatch, UnixSocketRecord

    out = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            rows = draw(st.lists(st.tuples(st.sampled_from([1, 10]), v4, st.integers(0, 65535),
                                           v4, st.integers(0, 65535)), min_size=1, max_size=8))
            out.append(_batch("tcp", 4, rows, [draw(owner_sets) for _ in rows] if pids else None))
            continue
        socks = []
        for i in range(draw(st.integers(1, 12))):
            name, peer_name = draw(unix_names), draw(unix_names)
            peer = draw(st.sampled_from([0, None, 5000 + i, 4_000_000_000]))
            socks.append(UnixSocketRecord(
                proto="unix", family=0, state=draw(st.sampled_from([1, 7, 10, 99])),
                inode=1000 + i, uid=0, cookie=1 + i, recv_q=0, send_q=0,
                type=draw(st.sampled_from([1, 2, 5, 9])), path=None if name is None else name[0],
                abstract=None if name is None else name[1], peer=peer,
                peer_path=None if peer_name is None else peer_name[0],
                peer_abstract=None if peer_name is None else peer_name[1], peer_owners=None,
                verified=True, duplicate=draw(st.booleans())))
        batch = UnixBatch.from_sockets("unix", 0, socks)
        if pids:
            batch.owners = tuple(draw(owner_sets) for _ in socks)
        out.append(batch)
    return out


@settings(max_examples=examples(100), deadline=None)
@given(st.booleans().flatmap(lambda pids: st.tuples(st.just(pids), unix_batches(pids))))
def test_unix_column_parts_match_layout(case):
    """UNIX rows (any name: long ones widen their block, a wide character is measured in
    terminal columns, a ``%`` is text) print as the row-by-row reference cells laid out."""
    pids, drawn = case
    assert _render(drawn, pids) == _unix_expected(drawn, pids)


def test_unix_widths_known_from_the_memos():
    """The Local, Foreign and State widths of UNIX rows come from the memos that made their
    cells (``UnixColumns.widest``), as of each batch: a name made later (for a batch of the same
    block, or looked up and not shown: a peer's name with no peer) widens no earlier batch's
    column; a wide character counts two columns; the inode texts by their largest inode."""
    from pynetstat.model.sockets import UnixBatch, UnixSocketRecord

    def batch(rows: list[tuple]) -> UnixBatch:
        return UnixBatch.from_sockets("unix", 0, [UnixSocketRecord(
            proto="unix", family=0, state=1, inode=1000 + i, uid=0, cookie=1 + i, recv_q=0,
            send_q=0, type=1, path=path, abstract=True, peer=peer, peer_path=peer_path,
            peer_abstract=None if peer_path is None else False, peer_owners=None,
            verified=True, duplicate=False)
            for i, (path, peer, peer_path) in enumerate(rows)])

    cases = [
        # a long peer name looked up for a socket with no peer ("*"), in a later batch
        [batch([(b"a", 7, None), (b"b", 8, b"/run/x")]),
         batch([(b"c", 0, b"/" + b"n" * 40), (b"d", 9, None)])],
        # a wide name later in the block; inode texts of differing lengths
        [batch([(b"short", 123456789012, None), (b"x", 5, None)]),
         batch([("\u5bb6".encode() * 15, 1, b"/p")])],
        # an inode text wider than the column; a named peer's large inode, not printed
        [batch([(b"a", 10**25, b"/s"), (b"b", 5, None)]),
         batch([(b"c", 10**20, None), (b"d", 10**21, b"/t")])],
        # a long local name in a later batch of the same block, then a later block
        [batch([(b"s", 1, None)] * 3), batch([(b"L" * 50, 2, None)]),
         batch([(b"s", 3, None)] * BLOCK)],
    ]
    for batches in cases:
        for pids in (False, True):
            assert _render(batches, pids) == _unix_expected(batches, pids)


def test_unix_rows_across_blocks():
    """A UNIX batch larger than a block, then a long name: the heading keeps the first block's
    widths and the later block widens."""
    from pynetstat.model.sockets import UnixBatch, UnixSocketRecord

    def batch(n: int, name: bytes) -> UnixBatch:
        return UnixBatch.from_sockets("unix", 0, [UnixSocketRecord(
            proto="unix", family=0, state=1, inode=1000 + i, uid=0, cookie=1 + i, recv_q=0,
            send_q=0, type=1, path=name, abstract=True, peer=9000 + i, peer_path=None,
            peer_abstract=None, peer_owners=None, verified=True, duplicate=False)
            for i in range(n)])

    batches = [batch(BLOCK + 5, b"short"), batch(3, b"n" * 60), batch(BLOCK, b"short")]
    for pids in (False, True):
        assert _render(batches, pids) == _unix_expected(batches, pids)
