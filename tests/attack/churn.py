"""The churn harness: processes that open and close sockets on loopback as fast as they can.

Each churner, for a bounded time, every 1 to 5 ms does one of: open a TCP connection to its
listener (and accept it), open a UDP socket (bound, sometimes connected), close a random socket
it holds (sometimes with SO_LINGER 0, an RST and no TIME_WAIT), replace its listener, rename
itself, or fork a short-lived child that takes some of its sockets, holds them 1 to 20 ms and
exits (so PIDs and fd tables appear and vanish while pynetstat walks /proc, and PIDs get
reused). IPv4 on a 127.0.0.0/8 address of its own and IPv6 on ::1.

Bounded and always cleaned up: each churner stops itself at its deadline and dies with its
parent (PR_SET_PDEATHSIG), and ``Churn`` kills what is left on exit.

    with Churn(processes=4, seconds=10) as churn:
        ... run pynetstat ...
    churn.stats  # what the churners did (their last report lines)

Run ``python churn.py --seconds 5`` to churn from a shell.
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from contextlib import suppress

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
HOLD = 60  # sockets one churner keeps at most


def _prctl(option: int, arg) -> None:
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(option, arg, 0, 0, 0)


def _die_with_parent() -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _linger_close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class _Churner:
    def __init__(self, seconds: float, seed: int, address: str):
        self.deadline = time.monotonic() + seconds
        self.rng = random.Random(seed)
        self.address = address
        self.held: list[socket.socket] = []
        self.children: set[int] = set()
        self.counts = dict.fromkeys(("tcp", "udp", "close", "fork", "listen", "rename"), 0)
        self.listeners = [self._listener(socket.AF_INET), self._listener(socket.AF_INET6)]

    def _listener(self, family: int) -> socket.socket:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((self.address if family == socket.AF_INET else "::1", 0))
        s.listen(64)
        s.setblocking(False)
        return s

    def tcp(self) -> None:
        lst = self.rng.choice(self.listeners)
        c = socket.socket(lst.family, socket.SOCK_STREAM)
        c.connect(lst.getsockname()[:2])
        self.held.append(c)
        try:
            a, _ = lst.accept()
            self.held.append(a)
        except BlockingIOError:
            pass
        self.counts["tcp"] += 1

    def udp(self) -> None:
        v6 = self.rng.random() < 0.3
        u = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("::1" if v6 else self.address, 0))
        if self.rng.random() < 0.5:
            u.connect(("::1" if v6 else self.address, self.rng.randrange(1024, 65535)))
        self.held.append(u)
        self.counts["udp"] += 1

    def close(self) -> None:
        if self.held:
            s = self.held.pop(self.rng.randrange(len(self.held)))
            if self.rng.random() < 0.5:
                _linger_close(s)
            else:
                s.close()
            self.counts["close"] += 1

    def relisten(self) -> None:
        i = self.rng.randrange(2)
        old = self.listeners[i]
        self.listeners[i] = self._listener(old.family)
        _linger_close(old)
        self.counts["listen"] += 1

    def rename(self) -> None:
        _prctl(PR_SET_NAME, f"churn-{self.rng.randrange(1 << 20):x}".encode())
        self.counts["rename"] += 1

    def fork(self) -> None:
        if len(self.children) >= 8:
            return
        take = self.held[-3:]
        pid = os.fork()
        if pid == 0:
            try:
                _die_with_parent()
                for s in take:  # the child shares these sockets with the parent for a moment
                    s.fileno()
                extra = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                extra.bind((self.address, 0))
                time.sleep(self.rng.uniform(0.001, 0.02))
            finally:
                os._exit(0)
        self.children.add(pid)
        self.counts["fork"] += 1

    def reap(self) -> None:
        for pid in list(self.children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.children.discard(pid)

    def run(self) -> None:
        ops = [self.tcp] * 5 + [self.udp] * 3 + [self.close] * 7 + [self.fork] * 2 + \
              [self.relisten, self.rename]
        while time.monotonic() < self.deadline:
            op = self.rng.choice(ops)
            with suppress(OSError):  # a full accept queue, no ephemeral port: churn on
                op()
            while len(self.held) > HOLD:
                self.close()
            self.reap()
            time.sleep(self.rng.uniform(0.001, 0.005))
        for s in self.held + self.listeners:
            _linger_close(s)
        for pid in self.children:
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)
        print(" ".join(f"{k}={v}" for k, v in self.counts.items()), flush=True)


class Churn:
    """``processes`` churners for at most ``seconds``; a context manager that always cleans up."""

    def __init__(self, processes: int = 4, seconds: float = 10.0, address: str | None = None,
                 seed: int | None = None):
        self.processes = processes
        self.seconds = seconds
        seed = random.randrange(1 << 30) if seed is None else seed
        self.seed = seed
        self.address = address or f"127.{random.Random(seed).randrange(1, 250)}.{os.getpid() % 250}.7"
        self.procs: list[subprocess.Popen] = []
        self.stats: list[str] = []

    def __enter__(self) -> Churn:
        for i in range(self.processes):
            self.procs.append(subprocess.Popen(
                [sys.executable, __file__, "--seconds", str(self.seconds), "--seed",
                 str(self.seed + i), "--address", self.address],
                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True))
        time.sleep(0.2)  # let them start churning
        return self

    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            out, _ = p.communicate()
            self.stats.append(out.strip())


def main(argv: list[str]) -> None:
    args = dict(zip(argv[::2], argv[1::2]))
    seconds = float(args.get("--seconds", 5))
    seed = int(args.get("--seed", 0))
    address = args.get("--address", "127.0.0.7")
    _die_with_parent()
    _Churner(seconds, seed, address).run()


if __name__ == "__main__":
    main(sys.argv[1:])
