"""Move the bench into a private network namespace, with only a loopback interface, up.

On a shared machine other people's sockets would be counted, listed and timed too; in a fresh
namespace ``ss``, ``netstat`` and pynetstat (children inherit it) see our N pairs and nothing
else. /proc/<pid>/fd is not per-namespace, so the owner scans of ``-p`` still walk every process
on the host. Needs CAP_SYS_ADMIN; the caller falls back to the host namespace without it.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWNET = 0x40000000  # <linux/sched.h>; os.unshare() only arrives in Python 3.12
SIOCGIFFLAGS = 0x8913  # <linux/sockios.h>
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1  # <linux/if.h>
IFREQ = struct.Struct("16sH14x")  # struct ifreq: ifr_name, then ifr_flags in the union


def enter_private_netns() -> None:
    """unshare(CLONE_NEWNET), then bring ``lo`` up (the kernel gives it 127.0.0.1/8)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNET): {os.strerror(errno)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = IFREQ.pack(b"lo", 0)
        _, flags = IFREQ.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, request))
        fcntl.ioctl(sock, SIOCSIFFLAGS, IFREQ.pack(b"lo", flags | IFF_UP))
