"""``struct tcp_info`` of a run of equal-length sock_diag messages, read a field at a time.

A dump with ``INET_DIAG_INFO`` asked for is 3.3 times the bytes of a plain one (416 bytes a
socket against 128 on Linux 6.18), and decoding it one message at a time
(``diagreq.iter_messages`` + ``diagext.decode_extensions``) cost 0.25 s for 40k sockets where
the column decoder of ``-an`` takes 0.034 s for the same sockets (bench/tcpinfo_cost.py). The
kernel sends the full sockets of one dump with the same attributes in the same order, so in a
run of messages of one length the ``tcp_info`` payload sits at the same offset in each: the
fields a view asks for are then one ``struct`` format (pad bytes between them) read over the
run by ``iter_unpack`` and turned into columns by ``zip``, all in C. Only the fields a view
asks for are read. Measured at 40k established loopback sockets on an idle 2-core machine
(bench/tcpinfo_cost.py, best of 5), the INFO+CONG dump received and decoded: 57 ms for the 22
fields ``--info`` shows read as strided slices (``memoryview.cast``, a slice a field and two
for a u64), 92 ms for every field, 255 ms message by message; a plain dump through the ``-an``
column decoder, 32 ms; ``ss -tani`` 153 ms. The one format over the run reads the 21 fields
of the ``--info`` line in half the time of the strided slices (38 ms against 80 ms for 40k
sockets on the loaded host, in-process).

Where the attribute header before that offset is not the same in every message of the run (a
socket with an extra attribute of the same size: ULP, MD5 keys), ``info_columns`` returns
``None`` and the caller decodes that run message by message.
"""

from __future__ import annotations

import struct

from pynetstat.linux.netlink import NLMSGHDR, parse_attrs
from pynetstat.linux.tcpinfo import BIT_POSITIONS, ENDS, OFFSETS, RAW_NAMES, TCP_INFO_FIELDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

_INDEX = {name: i for i, name in enumerate(RAW_NAMES)}
SOCK_DIAG_BY_FAMILY = 20
INET_DIAG_INFO = 2
_MSG_SIZE = 72  # struct inet_diag_msg


def _run_reader(step: int, payload_len: int, indexes: tuple[int, ...]
                ) -> tuple[struct.Struct, struct.Struct]:
    """Two readers of the C fields ``indexes`` (sorted by offset, all within ``payload_len``)
    of a payload: one ``step`` bytes long, for ``iter_unpack`` over every message of a run but
    the last, and one that ends with the last field, for the last message (its message may end
    the buffer)."""
    key = (step, payload_len, indexes)
    readers = _READERS.get(key)
    if readers is None:
        fmt, at = "=", 0
        for index in indexes:
            if OFFSETS[index] > at:
                fmt += f"{OFFSETS[index] - at}x"
            fmt += TCP_INFO_FIELDS[index][1]
            at = ENDS[index]
        readers = _READERS[key] = (struct.Struct(fmt + (f"{step - at}x" if step > at else "")),
                                   struct.Struct(fmt))
    return readers


_READERS: dict[tuple[int, int, tuple[int, ...]], tuple[struct.Struct, struct.Struct]] = {}


def info_columns(buf: bytes, first: int, count: int, step: int, payload_len: int,
                 names: tuple[str, ...]) -> dict[str, Sequence[int | None]] | None:
    """``{field: (value of each message)}`` for a run of ``count`` messages, ``step`` bytes
    apart, whose first message has its ``INET_DIAG_INFO`` payload (``payload_len`` bytes) at
    byte ``first`` of ``buf``. Field names as in ``tcpinfo.TCP_INFO_FIELDS`` and ``BIT_FIELDS``;
    a field past ``payload_len`` (an older kernel) is ``None`` for every socket.
    ``None`` (no columns) when the run's messages do not all carry the same attribute header
    just before ``first``: then the payload is not at the same place in each of them.
    The fields are read by one ``struct`` format over the run (``iter_unpack``, in C) and the
    rows turned into columns by ``zip``: a tuple a field, no Python work per socket."""
    header = buf[first - 4 : first]
    for i in range(4):
        if buf[first - 4 + i : first + (count - 1) * step : step].count(header[i]) != count:
            return None
    wanted: dict[str, int] = {}
    for name in names:
        bit = BIT_POSITIONS.get(name)
        wanted[name] = bit[0] if bit else _INDEX[name]
    indexes = tuple(sorted({i for i in wanted.values() if ENDS[i] <= payload_len},
                           key=OFFSETS.__getitem__))
    read: dict[int, Sequence[int]] = {}
    if indexes:
        rows, last = _run_reader(step, payload_len, indexes)
        unpacked = list(rows.iter_unpack(memoryview(buf)[first : first + (count - 1) * step]))
        unpacked.append(last.unpack_from(buf, first + (count - 1) * step))
        read = dict(zip(indexes, zip(*unpacked)))
    out: dict[str, Sequence[int | None]] = {}
    for name, index in wanted.items():
        values = read.get(index)
        if values is None:
            out[name] = (None,) * count
            continue
        bit = BIT_POSITIONS.get(name)
        if bit:
            _index, shift, mask = bit
            values = tuple(v >> shift & mask for v in values)
        out[name] = values
    return out


# nlmsghdr bytes every message of a run shares with the first: length, type, sequence number.
_SAME = (0, 1, 2, 3, 4, 5, 8, 9, 10, 11)


def _same_header_run(chunk: bytes, off: int, length: int) -> int:
    """How many messages from ``off`` on have the first one's length, type and sequence number
    (a byte column per header byte, compared in C: no Python work per message)."""
    count = (len(chunk) - off) // length
    stop = off + count * length
    for at in _SAME:
        column = chunk[off + at : stop : length]
        if column.count(column[0]) != count:
            count = next(i for i, b in enumerate(column) if b != column[0])
            stop = off + count * length
    return count


def info_runs(chunk: bytes, seq: int) -> Iterator[tuple[int, int, int, tuple[int, int] | None]]:
    """The runs of contiguous sock_diag messages of one length (and sequence number ``seq``) in
    a receive buffer: ``(offset, length, count, (INFO payload offset, size) or None)``, the
    INFO attribute as found in the run's first message. Control messages and anything malformed
    end a run and are skipped here: the dump's own decoder accounts for them."""
    end, off = len(chunk), 0
    unpack = NLMSGHDR.unpack_from
    while off + NLMSGHDR.size <= end:
        length, mtype, _flags, mseq, _pid = unpack(chunk, off)
        if length < NLMSGHDR.size:
            return
        if mtype != SOCK_DIAG_BY_FAMILY or mseq != seq or length % 4 or off + length > end \
                or length < NLMSGHDR.size + _MSG_SIZE:
            off += (length + 3) & ~3
            continue
        count = _same_header_run(chunk, off, length)
        info = parse_attrs(chunk, off + NLMSGHDR.size + _MSG_SIZE, off + length).get(INET_DIAG_INFO)
        yield off, length, count, info
        off += count * length
