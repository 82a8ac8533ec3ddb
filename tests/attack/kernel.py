"""Doubles of the kernel, written from the kernel's sources rather than from pynetstat's parsers.

* ``proc_net_line``: a socket as net/ipv4/tcp_ipv4.c (``get_tcp4_sock``), net/ipv6/tcp_ipv6.c
  (``get_tcp6_sock``) and net/ipv4/udp.c (``udp4_format_sock``) print it in /proc/net/*;
* ``diag_message`` / ``done_message`` / ``error_message``: sock_diag replies as
  net/ipv4/inet_diag.c builds them (``inet_sk_diag_fill``), framed by include/uapi/linux/netlink.h;
* ``FakeKernel``: a netlink source (the ``dump(request) -> Reply`` interface every source has)
  that answers from sockets it holds, or from recorded rtnetlink dumps, and misbehaves on request;
* ``FakeProc``: a /proc tree on disk that ``PYNETSTAT_PROC_ROOT`` / ``Environment(proc_root=)``
  reads as /proc, whose files can be removed, emptied, truncated or replaced by hostile things.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
from pathlib import Path
from socket import AF_INET, AF_INET6, inet_pton

from pynetstat.linux.netlink import Reply, read_recording

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STATS_HOST = FIXTURES / "linux" / "stats-host"

NLM_F_MULTI = 0x02
NLM_F_DUMP_INTR = 0x10
NLMSG_ERROR, NLMSG_DONE = 2, 3
SOCK_DIAG_BY_FAMILY = 20

PROC_NET_HEADERS = {
    "tcp": "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
           "   uid  timeout inode",
    "tcp6": "  sl  local_address                         remote_address                        "
            "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "udp": "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
           "   uid  timeout inode ref pointer drops",
    "udp6": "  sl  local_address                         remote_address                        "
            "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
}


class Sock:
    """What the kernel knows of one socket (the fields both formats carry)."""

    def __init__(self, proto="tcp", family=4, state=10, local="127.0.0.1", lport=0,
                 remote=None, rport=0, inode=0, uid=0, cookie=1, recv_q=0, send_q=0, ifindex=0):
        self.proto, self.family, self.state = proto, family, state
        self.local, self.lport = local, lport
        self.remote = remote if remote is not None else ("0.0.0.0" if family == 4 else "::")
        self.rport, self.inode, self.uid, self.cookie = rport, inode, uid, cookie
        self.recv_q, self.send_q, self.ifindex = recv_q, send_q, ifindex

    @property
    def name(self) -> str:
        return self.proto + ("6" if self.family == 6 else "")


def _hex_address(address: str, family: int, byteorder: str) -> str:
    """The kernel prints each ``__be32`` word of the address as a host-order ``%08X``."""
    raw = inet_pton(AF_INET if family == 4 else AF_INET6, address)
    return "".join(f"{int.from_bytes(raw[i:i + 4], byteorder):08X}" for i in range(0, len(raw), 4))


def proc_net_line(slot: int, sock: Sock, byteorder: str = sys.byteorder) -> str:
    """One data line of /proc/net/{tcp,udp}[6], in the kernel's printf formats."""
    local = f"{_hex_address(sock.local, sock.family, byteorder)}:{sock.lport:04X}"
    remote = f"{_hex_address(sock.remote, sock.family, byteorder)}:{sock.rport:04X}"
    head = f"{slot:4d}: " if sock.proto == "tcp" else f"{slot:5d}: "
    tail = (f"{sock.state:02X} {sock.send_q:08X}:{sock.recv_q:08X} 00:00000000 00000000 "
            f"{sock.uid:5d} {0:8d} {sock.inode} ")
    tail += "1 0000000000000000 100 0 0 10 0" if sock.proto == "tcp" else "2 0000000000000000 0"
    return head + local + " " + remote + " " + tail


def proc_net_file(socks: list[Sock], name: str, byteorder: str = sys.byteorder) -> str:
    lines = [PROC_NET_HEADERS[name]]
    lines += [proc_net_line(i, s, byteorder) for i, s in enumerate(socks)]
    return "\n".join(lines) + "\n"


def nlmsg(mtype: int, flags: int, seq: int, payload: bytes, length: int | None = None) -> bytes:
    """One netlink message, padded to 4 bytes; ``length`` overrides the header's length field."""
    n = 16 + len(payload) if length is None else length
    msg = struct.pack("=IHHII", n, mtype, flags, seq, 0) + payload
    return msg + b"\0" * (-len(msg) % 4)


def diag_message(sock: Sock, seq: int, flags: int = NLM_F_MULTI) -> bytes:
    """``struct inet_diag_msg`` (72 bytes) in an ``nlmsghdr``: ports big-endian, the rest host order."""
    af = AF_INET if sock.family == 4 else AF_INET6
    src = inet_pton(af, sock.local).ljust(16, b"\0")
    dst = inet_pton(af, sock.remote).ljust(16, b"\0")
    body = (struct.pack("=BBBB", af, sock.state, 0, 0) + struct.pack("!HH", sock.lport, sock.rport)
            + src + dst + struct.pack("=III", sock.ifindex, sock.cookie & 0xFFFFFFFF, sock.cookie >> 32)
            + struct.pack("=IIIII", 0, sock.recv_q, sock.send_q, sock.uid, sock.inode))
    return nlmsg(SOCK_DIAG_BY_FAMILY, flags, seq, body)


def vsock_message(seq: int, *, stype: int, state: int, src: tuple[int, int],
                  dst: tuple[int, int], inode: int, cookie: int, shutdown: int = 0,
                  flags: int = NLM_F_MULTI) -> bytes:
    """``struct vsock_diag_msg`` (include/uapi/linux/vm_sockets_diag.h, 32 bytes, host order):
    family AF_VSOCK (40), type, state, shutdown; source CID and port, destination CID and port;
    inode; cookie as two u32, low half first."""
    body = (struct.pack("=BBBB", 40, stype, state, shutdown) + struct.pack("=II", *src)
            + struct.pack("=II", *dst) + struct.pack("=I", inode)
            + struct.pack("=II", cookie & 0xFFFFFFFF, cookie >> 32))
    return nlmsg(SOCK_DIAG_BY_FAMILY, flags, seq, body)


def done_message(seq: int, error: int = 0) -> bytes:
    return nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, struct.pack("=i", error))


def error_message(seq: int, errno_: int) -> bytes:
    """NLMSG_ERROR: a negative errno, then the header of the request it answers."""
    return nlmsg(NLMSG_ERROR, 0, seq, struct.pack("=i", -errno_) + struct.pack("=IHHII", 72, 20, 0x301, seq, 0))


class FakeKernel:
    """A netlink source that plays the kernel for the product.

    sock_diag requests are answered from ``socks`` (filtered by protocol and family, as the
    kernel does; the state mask is not applied, as a kernel's filter is not what is under test),
    rtnetlink requests from the recordings in ``rtnl_dir``. ``fault(key, chunks, seq)`` may
    rewrite the buffers of one reply (return a list of bytes), or raise, to misbehave.
    """

    def __init__(self, socks=(), fault=None, rtnl_dir: Path | None = STATS_HOST / "netlink",
                 per_buffer: int = 30):
        self.socks = list(socks)
        self.fault = fault
        self.rtnl_dir = rtnl_dir
        self.per_buffer = per_buffer
        self.seq = 1000
        self.requests: list[str] = []
        self.closed = False

    def buffers(self, key: str, seq: int) -> list[bytes]:
        if key.startswith("sock_diag-"):
            name = key.removeprefix("sock_diag-")
            if name == "tcp46":
                # TCP of both families in one dump (TCPDIAG_GETSOCK): this kernel refuses it, so
                # the product asks for each family, the requests the faults here are keyed on
                return [error_message(seq, 95)]
            msgs = [diag_message(s, seq) for s in self.socks if s.name == name]
            chunks = [b"".join(msgs[i:i + self.per_buffer])
                      for i in range(0, len(msgs), self.per_buffer)]
            return chunks + [done_message(seq)]
        path = None if self.rtnl_dir is None else self.rtnl_dir / f"{key}.nl"
        if path is None or not path.exists():
            return [error_message(seq, 95)]  # EOPNOTSUPP
        rec_seq, chunks = read_recording(path.read_bytes(), str(path))
        # Re-stamp the recorded messages with this request's sequence number.
        return [_restamp(c, rec_seq, seq) for c in chunks]

    def dump(self, request) -> Reply:
        self.seq += 1
        self.requests.append(request.key)
        chunks = self.buffers(request.key, self.seq)
        if self.fault is not None:
            chunks = self.fault(request.key, chunks, self.seq)
        return Reply(self.seq, iter(chunks) if isinstance(chunks, list) else chunks)

    def close(self) -> None:
        self.closed = True


# Bytes that read as numbers to one parser and not to another, or end a field early.
TOKENS = [b"-1", b"+1", b"1_0", b"0x", b"\xc2\xb2", b"\n", b" ", b":", b"(", b")", b"\0", b"\xff"]


def garble(chunks: list[bytes], rng, extra: bytes = b"") -> list[bytes]:
    """A kernel's reply buffers (or files), damaged: bytes flipped, 16- and 32-bit length fields
    rewritten anywhere (aligned or not), garbage or a TOKEN spliced in, ``extra`` (say, a stale
    message) appended, buffers cut short."""
    out = []
    for chunk in chunks:
        b = bytearray(chunk)
        for _ in range(rng.randrange(1, 8)):
            kind = rng.randrange(5)
            at = rng.randrange(len(b) + 1)
            if kind == 0 and b:
                b[min(at, len(b) - 1)] = rng.randrange(256)
            elif kind in (1, 2):
                size = 4 if kind == 1 else 2
                value = rng.choice([0, 1, 3, 4, 5, 8, 15, 16, 17, 88, 0xFFFF, 0xFFFFFFFF,
                                    rng.randrange(1 << 32)]) & ((1 << 8 * size) - 1)
                b[at:at + size] = value.to_bytes(size, "little")
            elif kind == 3:
                b[at:at] = rng.choice([rng.randbytes(rng.randrange(1, 40)), rng.choice(TOKENS)])
            elif extra:
                b += extra
        if rng.random() < 0.2:
            b = b[:rng.randrange(len(b) + 1)]
        out.append(bytes(b))
    return out


def _restamp(chunk: bytes, old: int, new: int) -> bytes:
    out = bytearray(chunk)
    off = 0
    while off + 16 <= len(out):
        length, _t, _f, seq = struct.unpack_from("=IHHI", out, off)
        if length < 16:
            break
        if seq == old:
            struct.pack_into("=I", out, off + 8, new)
        off += (length + 3) & ~3
    return bytes(out)


# --- a /proc tree on disk ------------------------------------------------------------------

def stat_line(pid: int, comm: bytes, ppid: int = 1, start: int = 1000, state: bytes = b"S") -> bytes:
    """/proc/PID/stat: ``pid (comm) state ppid ...``, 52 fields, field 22 the start time."""
    rest = [state, str(ppid).encode()] + [b"0"] * 17 + [str(start).encode()] + [b"0"] * 30
    return str(pid).encode() + b" (" + comm + b") " + b" ".join(rest) + b"\n"


def status_text(pid: int, comm: bytes, ppid: int = 1, uid: int = 0) -> bytes:
    return (b"Name:\t" + comm + b"\nUmask:\t0022\nState:\tS (sleeping)\n"
            + f"Tgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\nTracerPid:\t0\n"
              f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\nFDSize:\t64\n".encode())


class FakeProc:
    """A /proc tree under ``root``: net/* counters copied from a recorded host, sockets and
    processes written by the methods below."""

    def __init__(self, root: Path, counters: Path | None = STATS_HOST / "proc" / "net"):
        self.root = Path(root)
        (self.root / "net").mkdir(parents=True, exist_ok=True)
        if counters is not None:
            for f in counters.iterdir():
                shutil.copy(f, self.root / "net" / f.name)
        for name in PROC_NET_HEADERS:
            self.write(f"net/{name}", PROC_NET_HEADERS[name] + "\n")

    def __str__(self) -> str:
        return str(self.root)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, data: str | bytes) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def sockets(self, socks: list[Sock], byteorder: str = sys.byteorder) -> None:
        """Write every /proc/net/{tcp,udp}[6] file from ``socks``."""
        for name in PROC_NET_HEADERS:
            self.write(f"net/{name}", proc_net_file([s for s in socks if s.name == name], name, byteorder))

    def process(self, pid: int, comm: bytes = b"server", *, exe: bytes | str | None = b"/usr/bin/server",
                cmdline: bytes = b"server\0", cgroup: bytes = b"0::/system.slice/server.service\n",
                uid: int = 0, ppid: int = 1, start: int = 1000, inodes=()) -> Path:
        d = self.root / str(pid)
        if d.exists():
            shutil.rmtree(d)
        (d / "fd").mkdir(parents=True)
        (d / "stat").write_bytes(stat_line(pid, comm, ppid, start))
        (d / "status").write_bytes(status_text(pid, comm, ppid, uid))
        (d / "comm").write_bytes(comm + b"\n")
        (d / "cmdline").write_bytes(cmdline)
        (d / "cgroup").write_bytes(cgroup)
        if exe is not None:
            os.symlink(os.fsencode(exe), os.fsencode(d / "exe"))
        for fd, inode in enumerate(inodes, start=3):
            os.symlink(f"socket:[{inode}]", d / "fd" / str(fd))
        os.symlink("/dev/null", d / "fd" / "0")
        return d

    # Ways to break one path of the tree.
    def break_path(self, rel: str, how: str) -> None:
        p = self.path(rel)
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
        if how == "missing":  # ENOENT
            return
        if how == "directory":  # EISDIR
            p.mkdir()
        elif how == "fifo":  # a read that would block forever
            os.mkfifo(p)
        elif how == "empty":
            p.write_bytes(b"")
        elif how == "loop":  # ELOOP
            os.symlink(p.name, p)
        elif how == "name_too_long":  # ENAMETOOLONG
            os.symlink("x" * 300, p)
        elif how == "dangling":  # ENOENT through a link
            os.symlink("/nonexistent/pynetstat-attack", p)
        elif how == "unreadable":  # EACCES for anyone but root (used in an unprivileged child)
            p.write_bytes(b"secret\n")
            p.chmod(0)
        else:
            raise ValueError(how)

    def truncate(self, rel: str, keep: int) -> None:
        """A short read: the file ends ``keep`` bytes in, mid-line."""
        p = self.path(rel)
        p.write_bytes(p.read_bytes()[:keep])


BREAKS = ("missing", "directory", "fifo", "empty", "loop", "name_too_long", "dangling")
