"""``struct tcp_info`` (include/uapi/linux/tcp.h), as the kernel sends it in ``INET_DIAG_INFO``.

The struct has grown with the kernel: 104 bytes up to ``tcpi_total_retrans`` (2.6), then the
rates and byte counters (4.x), ``tcpi_bytes_sent`` and friends (4.19), ``tcpi_snd_wnd`` (5.4),
``tcpi_rcv_wnd`` and ``tcpi_rehash`` (6.2), the RTO counters (6.7), the AccECN counters (6.18:
280 bytes, what this machine's 6.18 kernel sends). A payload holds a prefix of it: every field
that fits is decoded, every later one is ``None`` ("this kernel does not say"), never 0.

``TCP_INFO_FIELDS`` is the table: name (the kernel's, without ``tcpi_``), C type, unit, meaning.
Offsets follow from the C layout (natural alignment, as ``struct`` native mode computes it).
Units are the kernel's: times in microseconds unless the table says ms; rates in bytes per
second (ss prints them times 8, in bits per second); ``cwnd``, ``ssthresh``, ``unacked``,
``lost``, ``retrans`` in segments.
"""

from __future__ import annotations

import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# (name, C type, unit, meaning). Bit fields are decoded by hand; they are listed where they lie.
TCP_INFO_FIELDS = (
    ("state", "B", "", "TCP state (include/net/tcp_states.h)"),
    ("ca_state", "B", "", "congestion-avoidance state: 0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss"),
    ("retransmits", "B", "count", "retransmission timeouts in a row, now (icsk_retransmits)"),
    ("probes", "B", "count", "zero-window or keepalive probes sent without answer, now"),
    ("backoff", "B", "count", "exponential backoff of the retransmission timer, now"),
    ("options", "B", "bits", "TCPI_OPT_* negotiated: see OPTION_NAMES"),
    ("_wscale", "B", "", "bit fields snd_wscale:4, rcv_wscale:4"),
    ("_flags", "B", "", "bit fields delivery_rate_app_limited:1, fastopen_client_fail:2"),
    ("rto", "I", "us", "retransmission timeout"),
    ("ato", "I", "us", "delayed-ACK timeout"),
    ("snd_mss", "I", "bytes", "send maximum segment size"),
    ("rcv_mss", "I", "bytes", "receive MSS, as estimated from the segments received"),
    ("unacked", "I", "segments", "sent and not yet acknowledged (a listener: its accept queue)"),
    ("sacked", "I", "segments", "selectively acknowledged (a listener: its backlog)"),
    ("lost", "I", "segments", "presumed lost, now"),
    ("retrans", "I", "segments", "retransmitted and not yet acknowledged, now"),
    ("fackets", "I", "segments", "always 0 since Linux 4.18 (FACK removed)"),
    ("last_data_sent", "I", "ms", "since the last data segment was sent"),
    ("last_ack_sent", "I", "ms", "not remembered by the kernel: always 0"),
    ("last_data_recv", "I", "ms", "since the last data segment was received"),
    ("last_ack_recv", "I", "ms", "since the last ACK was received"),
    ("pmtu", "I", "bytes", "path MTU"),
    ("rcv_ssthresh", "I", "bytes", "receive window clamp while it grows"),
    ("rtt", "I", "us", "smoothed round-trip time"),
    ("rttvar", "I", "us", "round-trip time variation (mean deviation)"),
    ("snd_ssthresh", "I", "segments", "slow-start threshold; >= 0xFFFF means none yet (ss omits it)"),
    ("snd_cwnd", "I", "segments", "congestion window"),
    ("advmss", "I", "bytes", "MSS advertised to the peer"),
    ("reordering", "I", "segments", "reordering tolerance (3 unless seen otherwise)"),
    ("rcv_rtt", "I", "us", "round-trip time as estimated by the receiver"),
    ("rcv_space", "I", "bytes", "receive buffer space auto-tuning estimate (DRS)"),
    ("total_retrans", "I", "segments", "retransmitted over the connection's life"),
    ("pacing_rate", "Q", "bytes/s", "pacing rate; ~0 means unlimited"),
    ("max_pacing_rate", "Q", "bytes/s", "SO_MAX_PACING_RATE; ~0 means unlimited"),
    ("bytes_acked", "Q", "bytes", "data bytes acknowledged by the peer (RFC 4898 HCThruOctetsAcked)"),
    ("bytes_received", "Q", "bytes", "data bytes received in order (RFC 4898 HCThruOctetsReceived)"),
    ("segs_out", "I", "segments", "segments sent, retransmissions and pure ACKs included"),
    ("segs_in", "I", "segments", "segments received, pure ACKs included"),
    ("notsent_bytes", "I", "bytes", "written by the application, not yet sent"),
    ("min_rtt", "I", "us", "minimum RTT seen (windowed); ~0 means no sample"),
    ("data_segs_in", "I", "segments", "segments received that carried data"),
    ("data_segs_out", "I", "segments", "segments sent that carried data"),
    ("delivery_rate", "Q", "bytes/s", "most recent delivery rate sample"),
    ("busy_time", "Q", "us", "time with data in flight"),
    ("rwnd_limited", "Q", "us", "time limited by the peer's receive window"),
    ("sndbuf_limited", "Q", "us", "time limited by the send buffer"),
    ("delivered", "I", "segments", "delivered to the peer, retransmissions included"),
    ("delivered_ce", "I", "segments", "delivered with an ECN CE mark"),
    ("bytes_sent", "Q", "bytes", "data bytes sent, retransmissions included (RFC 4898 HCDataOctetsOut)"),
    ("bytes_retrans", "Q", "bytes", "data bytes retransmitted (RFC 4898 OctetsRetrans)"),
    ("dsack_dups", "I", "segments", "duplicate segments reported by D-SACK"),
    ("reord_seen", "I", "count", "reordering events seen"),
    ("rcv_ooopack", "I", "segments", "out-of-order packets received"),
    ("snd_wnd", "I", "bytes", "the peer's advertised receive window, scaled"),
    ("rcv_wnd", "I", "bytes", "our advertised receive window, scaled"),
    ("rehash", "I", "count", "path rehash attempts (PLB or timeouts)"),
    ("total_rto", "H", "count", "RTO timeouts over the connection's life, SYN ones included"),
    ("total_rto_recoveries", "H", "count", "RTO recoveries, an unfinished one included"),
    ("total_rto_time", "I", "ms", "time spent in RTO recoveries"),
    ("received_ce", "I", "segments", "received with an ECN CE mark"),
    ("delivered_e1_bytes", "I", "bytes", "AccECN: delivered with ECT(1)"),
    ("delivered_e0_bytes", "I", "bytes", "AccECN: delivered with ECT(0)"),
    ("delivered_ce_bytes", "I", "bytes", "AccECN: delivered with CE"),
    ("received_e1_bytes", "I", "bytes", "AccECN: received with ECT(1)"),
    ("received_e0_bytes", "I", "bytes", "AccECN: received with ECT(0)"),
    ("received_ce_bytes", "I", "bytes", "AccECN: received with CE"),
    ("_ecn", "I", "", "bit fields ecn_mode:2, accecn_opt_seen:2, accecn_fail_mode:4, options2:24"),
)

# Fields made from the bit fields above: (name, container, width in bits, unit, meaning), in
# declaration order within each container.
BIT_FIELDS = (
    ("snd_wscale", "_wscale", 4, "", "the peer's window scale: shift of the windows it advertises (our send window)"),
    ("rcv_wscale", "_wscale", 4, "", "our window scale: shift of the windows we advertise"),
    ("delivery_rate_app_limited", "_flags", 1, "", "the delivery rate sample was limited by the application"),
    ("fastopen_client_fail", "_flags", 2, "", "TCP Fast Open client failure reason (0 none)"),
    ("ecn_mode", "_ecn", 2, "", "0 disabled, 1 RFC 3168 ECN, 2 AccECN, 3 pending"),
    ("accecn_opt_seen", "_ecn", 2, "", "AccECN option seen (0 not, 1 empty, 2 counters, 3 fail)"),
    ("accecn_fail_mode", "_ecn", 4, "", "AccECN failure bits"),
    ("options2", "_ecn", 24, "bits", "more negotiated options (24 bits)"),
)

# include/uapi/linux/tcp.h TCPI_OPT_*, in the order ss prints them (tcp_stats_print).
OPTION_NAMES = ((1, "ts"), (64, "usec_ts"), (2, "sack"), (8, "ecn"), (16, "ecnseen"),
                (32, "fastopen"), (4, "wscale"), (128, "tfo_child"))
TCPI_OPT_WSCALE = 4
CA_STATES = ("Open", "Disorder", "CWR", "Recovery", "Loss")
_UNLIMITED64 = (1 << 64) - 1
_NO_RTT = (1 << 32) - 1
# ss hides an rto equal to the initial timeout (TCP_TIMEOUT_INIT, 1 s since 3.1, 3 s before),
# i.e. "no RTT sample yet" on old kernels: `if (info->tcpi_rto && info->tcpi_rto != 3000000)`.
_SS_HIDDEN_RTO = 3000000

RAW_NAMES = tuple(f[0] for f in TCP_INFO_FIELDS)
FIELD_NAMES = tuple(n for n in RAW_NAMES if not n.startswith("_")) + tuple(f[0] for f in BIT_FIELDS)
UNITS = {f[0]: f[2] for f in TCP_INFO_FIELDS if not f[0].startswith("_")}
UNITS.update((f[0], f[3]) for f in BIT_FIELDS)


def _layout() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Offset and end of each field in the C struct: each starts at its own alignment."""
    offsets, ends, at = [], [], 0
    for _name, ctype, _unit, _doc in TCP_INFO_FIELDS:
        size = struct.calcsize(ctype)
        at = (at + size - 1) // size * size
        offsets.append(at)
        at += size
        ends.append(at)
    return tuple(offsets), tuple(ends)


OFFSETS, ENDS = _layout()
SIZE = (ENDS[-1] + 7) // 8 * 8  # the struct holds u64 fields, so it is padded to 8 bytes: 280
_prefix_structs: dict[int, tuple[int, struct.Struct]] = {}
_LITTLE = sys.byteorder == "little"


def _prefix(length: int) -> tuple[int, struct.Struct]:
    """How many fields a payload of ``length`` bytes holds whole, and a Struct that reads them."""
    cached = _prefix_structs.get(length)
    if cached is None:
        count = 0
        while count < len(ENDS) and ENDS[count] <= length:
            count += 1
        fmt, at = "=", 0
        for i in range(count):
            fmt += f"{OFFSETS[i] - at}x" if OFFSETS[i] > at else ""
            fmt += TCP_INFO_FIELDS[i][1]
            at = ENDS[i]
        cached = _prefix_structs[length] = (count, struct.Struct(fmt))
    return cached


def _bit_positions() -> dict[str, tuple[int, int, int]]:
    """name -> (index of its container among the C fields, shift, mask). GCC fills bit fields
    from the least significant bit on a little-endian target, from the most significant on a
    big-endian one (the System V ABIs)."""
    out: dict[str, tuple[int, int, int]]
    used: dict[str, int]
    out, used = {}, {}
    for name, container, width, _unit, _doc in BIT_FIELDS:
        index = RAW_NAMES.index(container)
        unit_bits = 8 * struct.calcsize(TCP_INFO_FIELDS[index][1])
        below = used.get(container, 0)
        used[container] = below + width
        shift = below if _LITTLE else unit_bits - below - width
        out[name] = (index, shift, (1 << width) - 1)
    return out


BIT_POSITIONS = _bit_positions()
_NONES = (None,) * len(TCP_INFO_FIELDS)


def _field(index: int) -> property:
    return property(lambda self: self._values[index], doc=TCP_INFO_FIELDS[index][3])


def _bit_field(index: int, shift: int, mask: int, doc: str) -> property:
    def get(self: TcpInfo) -> int | None:
        value = self._values[index]
        return None if value is None else value >> shift & mask
    return property(get, doc=doc)


class TcpInfo:
    """One decoded ``struct tcp_info``; a field the payload did not reach is ``None``.

    ``length`` is the payload's size in bytes (``SIZE`` on a kernel whose struct we know whole).
    Field names, units and meanings: ``TCP_INFO_FIELDS`` and ``BIT_FIELDS``.
    """

    # The fields are read-only properties over the tuple ``struct`` unpacked (set up below the
    # class, from the table): making the record costs one tuple, not 80 attribute stores, which
    # at 40k sockets was 0.5 s of a 0.8 s decode.
    __slots__ = ("length", "_values")
    if TYPE_CHECKING:  # the fields are properties set below from TCP_INFO_FIELDS and BIT_FIELDS
        def __getattr__(self, name: str) -> int | None: ...

    def __init__(self, *, length: int, **fields: int | None):
        unknown = set(fields) - set(FIELD_NAMES)
        if unknown:
            raise TypeError(f"TcpInfo has no field {sorted(unknown)[0]!r}")
        values = [fields.get(name) for name in RAW_NAMES]
        for name, (index, shift, mask) in BIT_POSITIONS.items():
            value = fields.get(name)
            if value is not None:
                values[index] = (values[index] or 0) | (value & mask) << shift
        self.length = length
        self._values = tuple(values)

    @classmethod
    def _unpacked(cls, length: int, values: tuple[int | None, ...]) -> TcpInfo:
        info = object.__new__(cls)
        info.length = length
        info._values = values
        return info

    def as_dict(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in FIELD_NAMES}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TcpInfo) and (self.length, self.as_dict()) == (other.length, other.as_dict())

    def __repr__(self) -> str:
        return f"TcpInfo(length={self.length}, rtt={self.rtt}, snd_cwnd={self.snd_cwnd}, ...)"

    # -- what ss derives (iproute2 misc/ss.c tcp_show_info), same formulas --------------------
    def option_names(self) -> tuple[str, ...]:
        """The negotiated options as ss names them (``ts sack ecn ... wscale``)."""
        opts = self.options or 0
        return tuple(name for bit, name in OPTION_NAMES if opts & bit)

    def send_rate_bps(self) -> float | None:
        """What the congestion window allows, in bits per second: ss's ``send`` =
        ``snd_cwnd * snd_mss * 8000000 / rtt`` (rtt in us), shown when all three are non-zero.
        (ss uses the Vegas RTT instead when tcp_vegas is the algorithm; we do not ask for it.)"""
        if self.rtt and self.snd_mss and self.snd_cwnd:
            return self.snd_cwnd * self.snd_mss * 8000000.0 / self.rtt
        return None

    def pacing_rate_bps(self) -> float | None:
        """ss's ``pacing_rate``: bytes/s times 8, absent when 0 or ~0 (no pacing limit)."""
        if self.pacing_rate and self.pacing_rate != _UNLIMITED64:
            return self.pacing_rate * 8.0
        return None

    def delivery_rate_bps(self) -> float | None:
        """ss's ``delivery_rate``: bytes/s times 8 (ss prints it when non-zero)."""
        return None if self.delivery_rate is None else self.delivery_rate * 8.0

    def ssthresh(self) -> int | None:
        """The slow-start threshold as ss shows it: none until it is below 0xFFFF (the kernel
        reports TCP_INFINITE_SSTHRESH, 0x7fffffff, until the first loss)."""
        value = self.snd_ssthresh
        return value if value is not None and value < 0xFFFF else None

    def min_rtt_us(self) -> int | None:
        """``min_rtt`` unless it is 0 or ~0 (no sample), as ss filters it."""
        return self.min_rtt if self.min_rtt and self.min_rtt != _NO_RTT else None

    def limited_percent(self) -> tuple[float | None, float | None]:
        """ss's ``rwnd_limited:...(P%)`` and ``sndbuf_limited:...(P%)``: share of ``busy_time``."""
        if not self.busy_time:
            return None, None
        return (100.0 * self.rwnd_limited / self.busy_time if self.rwnd_limited else None,
                100.0 * self.sndbuf_limited / self.busy_time if self.sndbuf_limited else None)


def prefix_reader(length: int
                  ) -> tuple[tuple[None, ...], Callable[[bytes, int], tuple[int, ...]]]:
    """For a payload of ``length`` bytes: ``(fill, unpack_from)``, where ``unpack_from(buf,
    offset)`` reads the fields it holds and ``fill`` is the ``None``s of the fields it does not
    (empty for a kernel whose struct we know whole): ``unpack_from(buf, at) + fill`` is the
    values of a ``TcpInfo``."""
    count, reader = _prefix(length)
    return _NONES[count:], reader.unpack_from


def decode_tcp_info(payload: bytes) -> TcpInfo:
    """``INET_DIAG_INFO``'s payload -> ``TcpInfo``. A payload of the 104 bytes of a 2.6 kernel
    decodes up to ``total_retrans``, the rest ``None``; bytes past the fields we know (a newer
    kernel) are ignored. Example: 280 bytes from a 6.18 kernel fill every field."""
    count, reader = _prefix(len(payload))
    return TcpInfo._unpacked(len(payload), reader.unpack_from(payload) + _NONES[count:])


for _i, _name in enumerate(RAW_NAMES):
    if not _name.startswith("_"):
        setattr(TcpInfo, _name, _field(_i))
for _name, _container, _width, _unit, _doc in BIT_FIELDS:
    setattr(TcpInfo, _name, _bit_field(*BIT_POSITIONS[_name], _doc))


def format_rto_ms(info: TcpInfo) -> float | None:
    """``rto`` in ms as ss prints it (``rto:204``), or ``None`` where ss omits it."""
    if info.rto and info.rto != _SS_HIDDEN_RTO:
        return info.rto / 1000
    return None
