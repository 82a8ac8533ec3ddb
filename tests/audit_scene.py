"""Planted signs of compromise for the audit's live tests (issue 16), run inside a test-made
network namespace: ``python audit_scene.py TMPDIR LIBRARY INTERFACE`` starts one process per sign
(INTERFACE: one the packet sockets bind to and hold promiscuous), prints
``{"sign": pid, ...}`` (and the inode of the unowned socket) as one JSON line, and keeps them all
until its stdin closes.

Every planted process is a copy of this Python (or /bin/sh) holding a loopback or wildcard
socket in the namespace; nothing here touches the host's network.
"""

import json
import os
import shutil
import socket
import subprocess
import sys

# A listener that says its port, then waits for its stdin to close.
LISTEN = r"""
import ctypes, socket, sys
if len(sys.argv) > 2:
    ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)  # PR_SET_NAME, linux/prctl.h
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 0))
s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"""
# Run LISTEN from a memfd: a copy of this Python that exists in memory only.
FILELESS = r"""
import os, sys
fd = os.memfd_create("pnst-fileless", 0)
with open(sys.executable, "rb") as f:
    os.write(fd, f.read())
os.execv(f"/proc/self/fd/{fd}", ["pnst-fileless", "-c", sys.argv[1], "127.0.0.1"])
"""

# Sign 5: argv[1] says which socket to hold. "raw": a RAW ICMP socket; "dhcp": a packet socket
# for IPv4 frames on interface argv[2], as a DHCP client's; "sniff": one for every frame
# (ETH_P_ALL) holding argv[2] promiscuous, as tcpdump does (PACKET_ADD_MEMBERSHIP with
# PACKET_MR_PROMISC, include/uapi/linux/if_packet.h: SOL_PACKET 263, option 1, struct
# packet_mreq {int ifindex; u16 type, alen; u8 address[8]}).
CAPTURE = r"""
import socket, struct, sys
kind = sys.argv[1]
if kind == "raw":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
else:
    dgram = kind == "dhcp"
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM if dgram else socket.SOCK_RAW,
                      socket.htons(0x0800 if dgram else 0x0003))
    s.bind((sys.argv[2], 0))
    if kind == "sniff":
        s.setsockopt(263, 1, struct.pack("iHH8s", socket.if_nametoindex(sys.argv[2]), 1, 0, b""))
print(s.fileno(), flush=True)
sys.stdin.read()
"""


def main(tmp: str, library: str, interface: str) -> None:
    children = []
    pids = {}

    def start(sign, argv, **kw):
        try:  # /dev/shm mounted noexec, no /usr/bin/python3: that sign is not planted (None)
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 **kw)
        except (OSError, subprocess.SubprocessError):
            pids[sign] = None
            return
        children.append(p)
        pids[sign] = p.pid if p.stdout.readline() else None  # its port: listening now

    deleted = os.path.join(tmp, "pnst-deleted")
    shutil.copy2(sys.executable, deleted)
    start("deleted-executable", [deleted, "-c", LISTEN, "0.0.0.0"])
    os.unlink(deleted)
    # An upgrade not yet restarted: the file unlinked and a new one put at its path.
    upgraded = os.path.join(tmp, "pnst-upgraded")
    shutil.copy2(sys.executable, upgraded)
    start("upgraded", [upgraded, "-c", LISTEN, "127.0.0.1"])
    os.unlink(upgraded)
    shutil.copy2(sys.executable, upgraded)
    shm = os.path.join("/dev/shm", f"pnst-audit-{os.getpid()}")
    os.makedirs(shm)
    try:
        shutil.copy2(sys.executable, os.path.join(shm, "python"))
        start("writable-place", [os.path.join(shm, "python"), "-c", LISTEN, "127.0.0.1"])
    finally:
        shutil.rmtree(shm)  # the process keeps running its (now deleted) file
    start("memory-executable", [sys.executable, "-c", FILELESS, LISTEN])
    start("lying-name", [sys.executable, "-c", LISTEN, "127.0.0.1", "[kworker/0:1]"])
    start("preload", [sys.executable, "-c", LISTEN, "127.0.0.1"],
          env={**os.environ, "LD_PRELOAD": library})

    def as_user():
        os.setgid(1000)
        os.setuid(1000)

    start("open-listener", ["/usr/bin/python3", "-c", LISTEN, "::"], preexec_fn=as_user, cwd="/")
    # A shell whose stdin and stdout are one end of a loopback TCP connection.
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    server.close()
    shell = subprocess.Popen(["/bin/sh"], stdin=conn, stdout=conn)
    children.append(shell)
    conn.close()
    pids["shell-on-socket"] = shell.pid
    # Sign 5: a program's raw socket, and the same from a copy named ping (ping's trade); a
    # sniffer holding the interface promiscuous, and a copy named dhclient with its packet socket.
    start("raw-socket", [sys.executable, "-c", CAPTURE, "raw"])
    for name, kind in (("ping", "raw"), ("dhclient", "dhcp")):
        copy = os.path.join(tmp, name)
        shutil.copy2(sys.executable, copy)
        start(name, [copy, "-c", CAPTURE, kind, interface])
    start("sniffer", [sys.executable, "-c", CAPTURE, "sniff", interface])
    # A socket no process holds: sent over a UNIX socket, closed by the sender, never received.
    carrier, _peer = socket.socketpair()
    flying = socket.create_server(("127.0.0.1", 0))
    socket.send_fds(carrier, [b"x"], [flying.fileno()])
    unowned = os.fstat(flying.fileno()).st_ino
    flying.close()
    print(json.dumps({"pids": pids, "unowned": unowned}), flush=True)
    try:
        sys.stdin.read()
    finally:
        for p in children:
            p.kill()
            p.wait()
        client.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
