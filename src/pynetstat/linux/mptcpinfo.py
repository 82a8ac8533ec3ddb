"""``struct mptcp_info``: what mptcp_diag puts in an MPTCP socket's ``INET_DIAG_INFO``
(net/mptcp/mptcp_diag.c ``mptcp_diag_get_info`` -> ``mptcp_diag_fill_info``, net/mptcp/sockopt.c).

Layout (include/uapi/linux/mptcp.h), host order, fields added over the years at its end::

    u8  subflows, add_addr_signal, add_addr_accepted, subflows_max,         # 0   (5.9)
        add_addr_signal_max, add_addr_accepted_max; (2 bytes padding)
    u32 flags, token;                                                      # 8
    u64 write_seq, snd_una, rcv_nxt;                                       # 16
    u8  local_addr_used, local_addr_max;                                   # 40  (5.12)
    u8  csum_enabled; (1 byte padding)                                     # 42  (5.14)
    u32 retransmits; u64 bytes_retrans, bytes_sent, bytes_received,        # 44  (6.5)
        bytes_acked;
    u8  subflows_total; u8 reserved[3];                                    # 80  (6.8)
    u32 last_data_sent, last_data_recv, last_ack_recv;  (ms ago)           # 84  (6.10), 96 in all

A shorter payload (an older kernel) leaves the fields it does not reach ``None``. ``ss -Mi``
prints the same fields (iproute2 misc/ss.c ``mptcp_stats_print``; our words for them:
render/extensions.py ``mptcp_tokens``).
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False

# (name, struct format, offset), in the struct's order
FIELDS = (
    ("subflows", "B", 0), ("add_addr_signal", "B", 1), ("add_addr_accepted", "B", 2),
    ("subflows_max", "B", 3), ("add_addr_signal_max", "B", 4),
    ("add_addr_accepted_max", "B", 5), ("flags", "I", 8), ("token", "I", 12),
    ("write_seq", "Q", 16), ("snd_una", "Q", 24), ("rcv_nxt", "Q", 32),
    ("local_addr_used", "B", 40), ("local_addr_max", "B", 41), ("csum_enabled", "B", 42),
    ("retransmits", "I", 44), ("bytes_retrans", "Q", 48), ("bytes_sent", "Q", 56),
    ("bytes_received", "Q", 64), ("bytes_acked", "Q", 72), ("subflows_total", "B", 80),
    ("last_data_sent", "I", 84), ("last_data_recv", "I", 88), ("last_ack_recv", "I", 92),
)
SIZE = 96
_READERS = tuple((name, struct.Struct("=" + fmt), off) for name, fmt, off in FIELDS)
# include/uapi/linux/mptcp.h MPTCP_INFO_FLAG_*
FLAG_NAMES = ((1, "fallback"), (2, "remote_key"))  # as ss -Mi names them


class MptcpInfo:
    """The decoded struct: one attribute per field of ``FIELDS``, ``None`` past the payload."""

    __slots__ = tuple(name for name, _fmt, _off in FIELDS)
    if TYPE_CHECKING:  # the slots come from FIELDS; every one an int, or None past the payload
        def __getattr__(self, name: str) -> int | None: ...

    def as_dict(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in self.__slots__}

    def flag_names(self) -> list[str]:
        flags = self.flags or 0
        return [name for bit, name in FLAG_NAMES if flags & bit]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MptcpInfo) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MptcpInfo({self.as_dict()})"


def decode_mptcp_info(payload: bytes) -> MptcpInfo:
    """``struct mptcp_info`` -> ``MptcpInfo``.

    >>> info = decode_mptcp_info(struct.pack("=BBBBBBxxIIQQQ", 1, 0, 0, 2, 0, 0, 2, 0x5878fdb2,
    ...                                      7, 7, 9))
    >>> (info.subflows, info.subflows_max, hex(info.token), info.rcv_nxt, info.csum_enabled)
    (1, 2, '0x5878fdb2', 9, None)
    """
    info = MptcpInfo.__new__(MptcpInfo)
    size = len(payload)
    for name, reader, off in _READERS:
        value = reader.unpack_from(payload, off)[0] if off + reader.size <= size else None
        setattr(info, name, value)
    return info

