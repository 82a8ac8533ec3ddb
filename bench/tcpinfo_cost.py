"""What asking sock_diag for TCP internals costs: one TCP dump with and without extensions.

    sudo python bench/tcpinfo_cost.py [PAIRS] [REPEAT]     # default 20000 pairs, best of 3

In a private network namespace, ``PAIRS`` established loopback pairs (bench/fleet.py); then, for
each ``idiag_ext`` mask, the best of ``REPEAT`` runs of: the kernel's dump alone (every buffer
received, nothing decoded), the same plus our per-message decoding (``diagreq.iter_messages``
and ``diagext.decode_extensions``: the slow path the wiring round must not put on ``-an``), and
``ss -tan`` / ``ss -tani`` for scale.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "src"))

import fleet  # noqa: E402
import netns  # noqa: E402
from pynetstat.linux import diagext, diagreq, sockdiag, tcpinfo, tcpinfo_runs  # noqa: E402
from pynetstat.linux.netlink import DumpStats, LiveNetlink  # noqa: E402

MASKS = (("none", 0), ("INFO", diagext.EXT_INFO), ("INFO+CONG", diagext.GROUP_INFO),
         ("INFO+CONG+SKMEM+MEM+TOS+TCLASS",
          diagext.GROUP_INFO | diagext.GROUP_MEMORY | diagext.GROUP_TOS))


def best(repeat: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def raw_dump(nl, ext: int) -> tuple[int, int]:
    """Receive the whole dump; (buffers, bytes)."""
    buffers = size = 0
    for chunk in nl.dump(diagreq.diag_request(4, "tcp", states=0xFFFFFFFF & ~diagreq.STATE_BOUND,
                                              ext=ext)).chunks:
        buffers += 1
        size += len(chunk)
    return buffers, size


def decoded_dump(nl, ext: int) -> int:
    reply = nl.dump(diagreq.diag_request(4, "tcp", states=0xFFFFFFFF & ~diagreq.STATE_BOUND, ext=ext))
    count = 0
    for msg in diagreq.iter_messages(reply, DumpStats(), "bench"):
        diagext.decode_extensions(msg.attrs)
        count += 1
    return count


def column_dump(nl) -> int:
    stats = DumpStats()
    return sum(len(batch.state) for batch in
               sockdiag.decode_batches(nl.dump(sockdiag.build_request(4, "tcp")), "tcp", 4, stats))


# What --info would show for each connection (issue 13).
SHOWN = ("rtt", "rttvar", "rto", "snd_mss", "snd_cwnd", "snd_ssthresh", "retransmits",
         "total_retrans", "lost", "bytes_sent", "bytes_acked", "bytes_received", "segs_out",
         "segs_in", "delivery_rate", "pacing_rate", "snd_wscale", "rcv_wscale", "options",
         "last_data_sent", "last_data_recv", "last_ack_recv")


def column_info_dump(nl, names: tuple[str, ...]) -> int:
    """The INFO+CONG dump, tcp_info read a field at a time over runs (tcpinfo_runs)."""
    reply = nl.dump(diagreq.diag_request(4, "tcp", states=0xFFFFFFFF & ~diagreq.STATE_BOUND,
                                         ext=diagext.GROUP_INFO))
    count = 0
    for chunk in reply.chunks:
        for _off, length, run, info in tcpinfo_runs.info_runs(chunk, reply.seq):
            if info is not None:
                columns = tcpinfo_runs.info_columns(chunk, info[0], run, length, info[1], names)
                count += len(columns[names[0]])
    return count


def main(argv: list[str]) -> int:
    pairs = int(argv[0]) if argv else 20000
    repeat = int(argv[1]) if len(argv) > 1 else 3
    netns.enter_private_netns()
    with fleet.Fleet(pairs, 5000, 300.0) as opened:
        print(f"{pairs} pairs ready in {opened.setup_seconds:.1f}s; best of {repeat}; "
              f"kernel {os.uname().release}")
        nl = LiveNetlink()
        for name, ext in MASKS:
            t_raw, (buffers, size) = best(repeat, lambda ext=ext: raw_dump(nl, ext))
            t_dec, count = best(repeat, lambda ext=ext: decoded_dump(nl, ext))
            print(f"ext={ext:#04x} {name:32s} dump {t_raw * 1000:7.1f} ms ({buffers} buffers, "
                  f"{size / 1e6:6.1f} MB)   dump+per-message decode {t_dec * 1000:7.1f} ms "
                  f"({count} sockets)")
        for label, names in (("22 --info fields", SHOWN), ("every field", tcpinfo.FIELD_NAMES)):
            t_col, count = best(repeat, lambda names=names: column_info_dump(nl, names))
            print(f"ext=0x0a INFO+CONG, tcp_info by columns ({label}): {t_col * 1000:7.1f} ms "
                  f"({count} sockets)")
        t_fast, count = best(repeat, lambda: column_dump(nl))
        print(f"plain request, sockdiag.decode_batches (the -an path): {t_fast * 1000:7.1f} ms "
              f"({count} sockets)")
        for argv_ss in (["ss", "-tan"], ["ss", "-tani"]):
            t_ss, _ = best(repeat, lambda a=argv_ss: subprocess.run(a, stdout=subprocess.DEVNULL, check=True))
            print(f"{' '.join(argv_ss):10s} {t_ss * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
