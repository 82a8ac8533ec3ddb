"""What -d, --timers, --memory and --info print for a socket: a line under its row (the fields of
its JSON row are render/extensions_json.py's).

The text line is in ss's own words (iproute2 misc/ss.c ``tcp_timer_print``, ``print_skmeminfo``,
``tcp_show_info``), so that someone who knows ``ss -tinom`` reads it at once and a test can hold
it against ss for the same socket::

      TCP    127.0.0.1:41230        127.0.0.1:5432         ESTABLISHED
        timer:(keepalive,7.2sec,0) skmem:(r0,rb131072,t0,tb2626560,f0,w0,o0,bl0,d0)
        cubic wscale:7,7 rto:204 rtt:0.031/0.015 mss:32768 cwnd:10 bytes_sent:3000000 ...

Unlike ss, the --info fields are printed even when 0 (``retrans:0/0 lost:0``): a reader should
not have to know which ones ss leaves out. A field the kernel does not report (an older
``struct tcp_info``) is left out. JSON: every field of ``struct tcp_info``, its unit in its name
(docs/json.md, "tcp_info").
"""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter, itemgetter, mul

from pynetstat.linux.diagext import (
    SS_SKMEM_LABELS,
    RunExtensions,
    format_ms_timer,
)
from pynetstat.linux.tcpinfo import (
    BIT_POSITIONS,
    OPTION_NAMES,
    RAW_NAMES,
    format_rto_ms,
)
from pynetstat.model.passes import Measure
from pynetstat.textsafe import safe_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from pynetstat.model.passes import Measures
    from pynetstat.model.sockets import SocketBatch

    # Any, not linux.diagext's typed records: TcpInfo's fields are int | None, and info_text and
    # info_tokens read them where the struct's length says they are there (mypy cannot see it)
    Extensions = Any
    Timer = Any
    TcpInfo = Any

INDENT = "    "

# ---- text ----------------------------------------------------------------------------------

def _g(value: float) -> str:
    return f"{value:g}"  # ss prints times in ms with C's %g


def _rate(bps: float, numeric: bool) -> str:
    """ss's ``sprint_bw``: ``%.0f`` with -n, else ``52.4Gbps``-style."""
    if numeric:
        return f"{bps:.0f}bps"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if bps >= scale:
            return f"{bps / scale:.1f}{prefix}bps"
    return f"{bps:g}bps"


def timer_tokens(timer: Timer | None) -> list[str]:
    """``["timer:(keepalive,7.200sec,0)"]``; none when no timer is pending, as ss."""
    if timer is None or not timer.kind:
        return []
    return [timer.ss_text()]


def memory_tokens(ext: Extensions) -> list[str]:
    """ss -m: ``skmem:(r0,rb131072,...)``, or ``mem:(r,w,f,t)`` from a kernel before 3.6."""
    sk = ext.skmeminfo
    if sk is not None:
        values = sk.as_dict().values()
        return ["skmem:(" + ",".join(f"{label}{value}" for label, value in zip(SS_SKMEM_LABELS, values)
                                     if value is not None) + ")"]
    m = ext.meminfo
    if m is not None:
        return [f"mem:(r{m.rmem},w{m.wmem},f{m.fmem},t{m.tmem})"]
    return []


# --- the fast path of info_tokens: the TcpInfo's unpacked tuple read by index ----------------
_AT = {name: i for i, name in enumerate(RAW_NAMES)}
# the last field the line shows: a struct that reaches it (Linux 4.19+) takes the fast path
_LAST = max(_AT[name] for name in ("bytes_sent", "bytes_acked", "bytes_received", "segs_out",
                                   "segs_in", "last_data_sent", "delivery_rate", "lost"))
_OPTS_AT, _WS_AT = _AT["options"], BIT_POSITIONS["snd_wscale"][0]
_SND_WS, _RCV_WS = BIT_POSITIONS["snd_wscale"][1:], BIT_POSITIONS["rcv_wscale"][1:]
_NUMBERS_AT = tuple(_AT[name] for name in ("bytes_sent", "bytes_acked", "bytes_received",
                                           "segs_out", "segs_in", "last_data_sent",
                                           "last_data_recv", "last_ack_recv"))
_NUMBERS = itemgetter(*_NUMBERS_AT)
_TAIL_AT = tuple(_AT[name] for name in ("retrans", "total_retrans", "lost"))
_TAIL = itemgetter(*_TAIL_AT)
_TAIL_TEXT = " retrans:%d/%d lost:%d"
_NUMBERS_TEXT = ("bytes_sent:%d bytes_acked:%d bytes_received:%d segs_out:%d segs_in:%d "
                 "lastsnd:%d lastrcv:%d lastack:%d")
_RTO, _RTT, _RTTVAR, _MSS, _CWND, _SSTHRESH = (_AT[n] for n in (
    "rto", "rtt", "rttvar", "snd_mss", "snd_cwnd", "snd_ssthresh"))
_PACING, _DELIVERY = _AT["pacing_rate"], _AT["delivery_rate"]


class _Memo(dict):  # type: ignore[type-arg]
    """key -> ``make(key)``, made on first sight and kept."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[Any], str]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> str:
        value: str = self.make(key)
        self[key] = value
        return value


def _option_words(options: int) -> str:
    """``options`` -> ss's words for them and the window scales' place: ``"ts sack "``."""
    return "".join(f"{name} " for bit, name in OPTION_NAMES if options & bit)


def _head(key: tuple[int, str | None, int]) -> str:
    """(options, congestion algorithm, the window scales' byte) -> the line's first words:
    ``"ts sack cubic wscale:7,7 "``. A few distinct keys per host: made once each."""
    options, congestion, ws = key
    text = _option_words(options) + ("" if not congestion else safe_token(congestion) + " ")
    if options & 4:  # TCPI_OPT_WSCALE
        text += f"wscale:{ws >> _SND_WS[0] & _SND_WS[1]},{ws >> _RCV_WS[0] & _RCV_WS[1]} "
    return text


_HEADS = _Memo(_head)


def info_text(ext: Extensions, numeric: bool) -> str | None:
    """``info_tokens`` joined, made from the unpacked tuple with one ``%`` (at 200k sockets the
    property-by-property path took seconds). ``None``: no tcp_info."""
    info = ext.info
    if info is None:
        return None
    v = info._values
    if v[_LAST] is None:  # a struct older than Linux 4.19
        return " ".join(info_tokens(ext, numeric))
    text: str = _HEADS[(v[_OPTS_AT], ext.congestion, v[_WS_AT])]
    rto = v[_RTO]
    if rto and rto != 3000000:
        text += f"rto:{rto / 1000:g} "
    rtt = v[_RTT]
    if rtt:
        text += f"rtt:{rtt / 1000:g}/{v[_RTTVAR] / 1000:g} "
    if v[_MSS]:
        text += f"mss:{v[_MSS]} "
    if v[_SSTHRESH] < 0xFFFF:
        text += f"cwnd:{v[_CWND]} ssthresh:{v[_SSTHRESH]} "
    else:
        text += f"cwnd:{v[_CWND]} "
    text += _NUMBERS_TEXT % _NUMBERS(v)
    pacing = v[_PACING]
    if pacing and pacing != (1 << 64) - 1:
        text += " pacing_rate " + _rate(pacing * 8.0, numeric)
    if v[_DELIVERY]:
        text += " delivery_rate " + _rate(v[_DELIVERY] * 8.0, numeric)
    line: str = text + _TAIL_TEXT % _TAIL(v)
    return line


def info_tokens(ext: Extensions, numeric: bool) -> list[str]:
    """The --info fields of one TCP socket, in ss's order and words (the reference path:
    ``info_text`` is the fast one, tests/test_info_cli.py holds them equal)."""
    info = ext.info
    if info is None:
        return []
    out = list(info.option_names())
    if ext.congestion:
        out.append(safe_token(ext.congestion))
    if info.options is not None and info.options & 4:  # TCPI_OPT_WSCALE
        out.append(f"wscale:{info.snd_wscale},{info.rcv_wscale}")
    rto = format_rto_ms(info)
    if rto is not None:
        out.append(f"rto:{_g(rto)}")
    if info.rtt:  # 0: no sample yet (a listener), as ss leaves it out
        out.append(f"rtt:{_g(info.rtt / 1000)}/{_g(info.rttvar / 1000)}")
    if info.snd_mss:
        out.append(f"mss:{info.snd_mss}")
    out.append(f"cwnd:{info.snd_cwnd}")
    ssthresh = info.ssthresh()
    if ssthresh is not None:
        out.append(f"ssthresh:{ssthresh}")
    for label, value in (("bytes_sent", info.bytes_sent), ("bytes_acked", info.bytes_acked),
                         ("bytes_received", info.bytes_received), ("segs_out", info.segs_out),
                         ("segs_in", info.segs_in), ("lastsnd", info.last_data_sent),
                         ("lastrcv", info.last_data_recv), ("lastack", info.last_ack_recv)):
        if value is not None:
            out.append(f"{label}:{value}")
    pacing = info.pacing_rate_bps()
    if pacing:
        out += ["pacing_rate", _rate(pacing, numeric)]
    delivery = info.delivery_rate_bps()
    if delivery:
        out += ["delivery_rate", _rate(delivery, numeric)]
    out.append(f"retrans:{info.retrans}/{info.total_retrans}")
    out.append(f"lost:{info.lost}")
    return out


# struct mptcp_info fields as ss -Mi prints them (misc/ss.c mptcp_stats_print): in hex these
MPTCP_HEX = frozenset(("token", "write_seq", "snd_una", "rcv_nxt"))


def mptcp_tokens(ext: Extensions) -> list[str]:
    """--info of an MPTCP socket: every field of its ``struct mptcp_info`` the kernel reports,
    in the struct's order and ss -Mi's words (the flags by name: ``fallback``, ``remote_key``;
    the token and sequence numbers in hex), 0s too, as for TCP."""
    info = ext.mptcp
    if info is None:
        return []
    out = []
    for name in info.__slots__:
        value = getattr(info, name)
        if value is None:
            continue
        if name == "flags":
            out += info.flag_names()
        elif name in MPTCP_HEX:
            out.append(f"{name}:{value:x}")
        else:
            out.append(f"{name}:{value}")
    return out


def times_tokens(ext: Extensions) -> list[str]:
    """-i: what Linux knows of time, each named for what it is (never a time in state, which
    Linux does not record): ``timer left: keepalive 7.200sec;`` and, from tcp_info, ``last data
    sent 4ms ago, data received 3ms ago, ACK received 3ms ago``."""
    out = []
    timer = ext.timer
    if timer is not None and timer.kind:
        out.append(f"timer left: {timer.name} {format_ms_timer(timer.expires_ms) or '0ms'};")
    info = ext.info
    if info is not None and info.state != 10 and info.last_data_sent is not None:  # not LISTEN
        out.append(f"since last data sent: {info.last_data_sent}ms, data received: "
                   f"{info.last_data_recv}ms, ACK received: {info.last_ack_recv}ms")
    return out


# --- interval mode: what the run measured between passes (model/passes.py) --------------------

def rate_token(measure: Measure) -> str:
    """With ``--info`` and an interval: the connection's bytes per second sent (acknowledged by
    the peer) and received over the last pass, whole bytes as ``-c`` prints them; ``last rate``
    under a closed connection's ``-`` row; nothing measured yet said as such.

    >>> rate_token(Measure(0.5, 409612.4, 0.0, None))
    'rate: send 409612 B/s recv 0 B/s'
    >>> rate_token(Measure(0.5, None, None, None)), rate_token(Measure(None, None, None, None))
    ('rate: (new)', 'rate: (first pass)')
    """
    word = "last rate" if measure.closed else "rate"
    if measure.send is None or measure.receive is None:
        return f"{word}: {'(first pass)' if measure.seconds is None else '(new)'}"
    return f"{word}: send {measure.send:.0f} B/s recv {measure.receive:.0f} B/s"


def seen_tokens(measure: Measure | None) -> list[str]:
    """With ``-i`` and an interval: how long this run has seen the socket in its state, a lower
    bound of its time in state and said to be one; none on the pass that first saw it in it.

    >>> seen_tokens(Measure(None, None, None, 12.04))
    ['in state >= 12.0s (seen by this run)']
    """
    if measure is None or measure.seen is None:
        return []
    return [f"in state >= {measure.seen:.1f}s (seen by this run)"]


def dscp_tokens(ext: Extensions, ipv4: bool) -> list[str]:
    """-d: ``["dscp:46"]`` (Expedited Forwarding); none when the kernel sent no TOS or traffic
    class (a TIME_WAIT or request socket)."""
    dscp = ext.dscp(ipv4)
    return [] if dscp is None else [f"dscp:{dscp}"]


def is_ipv4(family: int, remote_address: str) -> bool:
    """Do the socket's packets carry an IPv4 TOS byte (an IPv4 socket, or an IPv6 one talking
    to an IPv4-mapped peer), rather than an IPv6 traffic class?"""
    return family == 4 or remote_address.startswith("::ffff:")


def extension_lines(ext: Extensions | None, groups: tuple[str, ...], numeric: bool,
                    ipv4: bool = True, measure: Measure | None = None) -> list[str]:
    """The line under a row for the groups asked for (``Options.extension_groups``), or none
    when the socket has nothing to say (no pending timer, UDP under --info, a TIME_WAIT socket,
    which has a timer and no other extension). ``ipv4``: see ``is_ipv4``. ``measure``: in
    interval mode, the row's rates (after the --info fields) and time seen in its state (after
    -i's times)."""
    if ext is None:
        return []
    tokens: list[str] = []
    for group in groups:
        if group == "tos":
            tokens += dscp_tokens(ext, ipv4)
        elif group == "timer":
            tokens += timer_tokens(ext.timer)
        elif group == "times":
            tokens += times_tokens(ext)
            tokens += seen_tokens(measure)
        elif group == "memory":
            tokens += memory_tokens(ext)
        elif group == "tcp_info":
            text = info_text(ext, numeric)
            if text is not None:
                tokens.append(text)
                if measure is not None:
                    tokens.append(rate_token(measure))
            tokens += mptcp_tokens(ext)
    return [INDENT + " ".join(tokens)] if tokens else []


def _under(lines: list[str]) -> str:
    """The lines under a row as one text, each ending with a newline ("" for none)."""
    return "".join(line + "\n" for line in lines)


def ext_lines_for(groups: tuple[str, ...], numeric: bool
                  ) -> Callable[[SocketBatch], tuple[str, list[Iterable[Any]]]]:
    """``batch -> (template, columns)`` for the table (a batch with an ``extensions`` column):
    the text under row ``i`` is ``template % (the i-th value of each column)``, "" or lines each
    ending with a newline (no columns: "" under every row). For --info alone (the common case:
    200k rows) ``info_cells``, a column at a time; else ``extension_lines`` row by row."""
    def lines(batch: SocketBatch) -> tuple[str, list[Iterable[Any]]]:
        exts = batch.extensions or ()
        measures = batch.measures
        if groups == ("tcp_info",):
            made = info_cells(exts, numeric)
            if made is not None:
                return made if measures is None else _with_rates(made, measures)
        v4 = batch.family == 4
        rows = (repeat(None) if measures is None else map(measures.row, range(len(exts))))
        return "%s", [[_under(extension_lines(ext, groups, numeric,
                                              v4 or remote.startswith("::ffff:"), measure))
                       for ext, remote, measure in zip(exts, batch.remote_address, rows)]]
    return lines


def _with_rates(made: tuple[str, list[Iterable[Any]]], measures: Measures
                ) -> tuple[str, list[Iterable[Any]]]:
    """``info_cells``' line of every row with its rate after it (``rate_token``): two ``%.0f``
    columns when every row has one (the usual pass), else a text per row."""
    template, columns = made
    if not template:
        return made  # no tcp_info in this run: no line, no rate
    send, receive = measures.send, measures.receive
    if send is None or receive is None:
        return made
    head = template[:-1]  # the line ends with its newline
    if None not in send and None not in receive:
        # a column the same in every row (idle connections: 0 and 0) goes into the template
        n = len(send)
        parts, more = [], list(columns)
        for values in (send, receive):
            if n and values.count(values[0]) == n:
                parts.append(f"{values[0]:.0f}")
            else:
                parts.append("%.0f")
                more.append(values)
        return head + f" rate: send {parts[0]} B/s recv {parts[1]} B/s\n", more
    if send.count(None) == len(send):  # the first pass, a run of new connections: one text
        return head + " " + rate_token(measures.row(0)) + "\n", columns
    return head + " %s\n", [*columns, map(rate_token, map(measures.row, range(len(send))))]


_VALUES = attrgetter("_values")
_INFO = attrgetter("info")
_CONGESTION = attrgetter("congestion")
# The struct's fields the --info line shows (its bit fields as their container, ``_wscale``).
SHOWN = ("options", "_wscale", "rto", "rtt", "rttvar", "snd_mss", "snd_cwnd", "snd_ssthresh",
         "bytes_sent", "bytes_acked", "bytes_received", "segs_out", "segs_in", "last_data_sent",
         "last_data_recv", "last_ack_recv", "pacing_rate", "delivery_rate", "retrans",
         "total_retrans", "lost")


def line_fields(groups: tuple[str, ...]) -> tuple[str, ...]:
    """The tcp_info fields the text reads from a run's columns (``info_cells``) for the
    extension ``groups`` asked for: the --info line's, when it is alone (else the rows' records
    are read, row by row)."""
    return SHOWN if groups == ("tcp_info",) else ()


_SHOWN_AT = tuple((name, itemgetter(_AT[name])) for name in SHOWN)
# (field, its piece of the line): _NUMBERS_TEXT and _TAIL_TEXT a field at a time
_NUMBER_PIECES = (("bytes_sent", "bytes_sent:%d "), ("bytes_acked", "bytes_acked:%d "),
                  ("bytes_received", "bytes_received:%d "), ("segs_out", "segs_out:%d "),
                  ("segs_in", "segs_in:%d "), ("last_data_sent", "lastsnd:%d "),
                  ("last_data_recv", "lastrcv:%d "), ("last_ack_recv", "lastack:%d"))
_TAIL_PIECES = (("retrans", " retrans:%d"), ("total_retrans", "/%d"), ("lost", " lost:%d\n"))
_MS = _Memo(lambda us: f"{us / 1000:g}")  # a time in us -> ss's ms text
_RTO_CELL = _Memo(lambda rto: f"rto:{rto / 1000:g} " if rto and rto != 3000000 else "")
_RTT_CELL = _Memo(lambda key: f"rtt:{key[0] / 1000:g}/{key[1] / 1000:g} " if key[0] else "")
_MSS_CELL = _Memo(lambda mss: f"mss:{mss} " if mss else "")
_CWND_CELL = _Memo(lambda key: f"cwnd:{key[0]} ssthresh:{key[1]} " if key[1] < 0xFFFF
                   else f"cwnd:{key[0]} ")
_EXACT = 1 << 50  # below it, a rate times 8 is the same number as a float and as an int


def _rate_cells(word: str, numeric: bool, unlimited: int | None) -> _Memo:
    def cell(rate: int) -> str:
        if not rate or rate == unlimited:
            return ""
        return f" {word} {_rate(rate * 8.0, numeric)}"
    return _Memo(cell)


_UNLIMITED = (1 << 64) - 1
_RATE_CELLS = {(word, numeric): _rate_cells(word, numeric, (1 << 64) - 1 if word == "pacing_rate" else None)
               for word in ("pacing_rate", "delivery_rate") for numeric in (False, True)}


def info_cells(exts: Sequence[Extensions], numeric: bool
               ) -> tuple[str, list[Iterable[Any]]] | None:
    """The --info line under each socket of a batch as ``(template, columns)`` (see
    ``ext_lines_for``), a field at a time. The fields come straight from the dump's buffer for
    a run of messages (``diagext.RunExtensions.info_columns``: no record per socket), else from
    the records' unpacked tuples (``itemgetter``, in C). ``None`` when a socket has no tcp_info
    or an older struct (then ``info_text`` row by row)."""
    if isinstance(exts, RunExtensions):
        columns = exts.info_columns(SHOWN)
        if columns == {}:
            return "", []  # no tcp_info in this run (UDP, TIME_WAIT): no line under any row
        if columns is not None:
            if any(column[0] is None for column in columns.values()):
                return None  # a struct older than Linux 4.19
            return _info_template(columns, exts.congestion(), numeric)
    infos = list(map(_INFO, exts))
    if not infos or not all(infos):  # (``None in`` would call TcpInfo.__eq__ on each)
        return None
    values = list(map(_VALUES, infos))
    if None in map(itemgetter(_LAST), values):
        return None
    return _info_template({name: list(map(get, values)) for name, get in _SHOWN_AT},
                          list(map(_CONGESTION, exts)), numeric)


def info_texts(exts: Sequence[Extensions], numeric: bool) -> list[str] | None:
    """``info_cells`` made into the text under each row (tests hold it against ``info_text``)."""
    made = info_cells(exts, numeric)
    if made is None:
        return None
    template, columns = made
    if not columns:
        return [template] * len(exts)
    return list(map(template.__mod__, zip(*columns)))


def _info_template(c: dict[str, Sequence[Any]], congestion: list[str | None], numeric: bool
                   ) -> tuple[str, list[Iterable[Any]]]:
    """``info_text``'s line as one ``%`` template for every row and its columns: a cell that
    is the same for the whole batch (the options, the algorithm, the RTO on a quiet host) is
    written into the template; a cell shown for some values only comes from a table of the
    texts of the values seen (a Python call per new value, none per row) unless the column has
    none of the values that hide it (the usual batch: every socket has an RTT sample, an MSS)."""
    n = len(congestion)
    parts = [INDENT]
    columns: list[Iterable[Any]] = []

    def same(values: Sequence[Any]) -> bool:
        first = values[0]  # (the two reads first: most columns that differ stop there)
        return values[-1] == first and values[n // 2] == first and values.count(first) == n

    def number(piece: str, values: Sequence[Any]) -> None:
        """``piece`` holds one ``%d``: in the template, or filled once when every socket has
        the same value (0 retransmissions, the loopback MSS)."""
        if same(values):
            parts.append(piece % values[0])
        else:
            parts.append(piece)
            columns.append(values)

    def cell(memo: _Memo, values: Sequence[Any]) -> None:
        if same(values):
            parts.append(memo[values[0]].replace("%", "%%"))
        else:
            parts.append("%s")
            columns.append(map(memo.__getitem__, values))

    options, ws = c["options"], c["_wscale"]
    if same(options) and same(ws) and same(congestion):
        parts.append(_HEADS[(options[0], congestion[0], ws[0])].replace("%", "%%"))
    else:
        parts.append("%s")
        columns.append(map(_HEADS.__getitem__, zip(options, congestion, ws)))
    cell(_RTO_CELL, c["rto"])
    rtt, rttvar = c["rtt"], c["rttvar"]
    if 0 not in rtt:
        parts.append("rtt:%s/%s ")
        columns += [map(_MS.__getitem__, rtt), map(_MS.__getitem__, rttvar)]
    else:
        parts.append("%s")
        columns.append(map(_RTT_CELL.__getitem__, zip(rtt, rttvar)))
    mss = c["snd_mss"]
    if 0 not in mss:
        number("mss:%d ", mss)
    else:
        cell(_MSS_CELL, mss)
    cwnd, ssthresh = c["snd_cwnd"], c["snd_ssthresh"]
    if min(ssthresh) >= 0xFFFF:
        number("cwnd:%d ", cwnd)
    elif max(ssthresh) < 0xFFFF:
        number("cwnd:%d ", cwnd)
        number("ssthresh:%d ", ssthresh)
    else:
        parts.append("%s")
        columns.append(map(_CWND_CELL.__getitem__, zip(cwnd, ssthresh)))
    for name, piece in _NUMBER_PIECES:
        number(piece, c[name])
    for word, unlimited in (("pacing_rate", _UNLIMITED), ("delivery_rate", None)):
        rates = c[word]
        if not same(rates) and numeric and 0 not in rates and unlimited not in rates \
                and max(rates) < _EXACT:
            # every socket shows the cell: ss's %.0f of the bits per second is that integer
            parts.append(f" {word} %dbps")
            columns.append(map(mul, rates, repeat(8)))
        else:
            cell(_RATE_CELLS[(word, numeric)], rates)
    for name, piece in _TAIL_PIECES:
        number(piece, c[name])
    return "".join(parts), columns
