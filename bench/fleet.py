"""A fleet of worker processes holding established TCP connection pairs on loopback.

The pairs are cut into chunks of at most ``pairs_per_worker``. Each chunk has its own listener on
its own address and port (``127.0.0.2``, ``127.0.0.3``, ... and a port the kernel picks) and two
workers: one accepts, one connects from its own source address (``127.0.1.x``). Every chunk thus
has its own (source address, destination address, destination port) and so its own ~28k ephemeral
ports, and no worker holds more than ``pairs_per_worker + a few`` descriptors.

Every socket gets SO_LINGER {on, 0}: however it is closed (exit, SIGKILL), the kernel sends a RST
and leaves no TIME_WAIT behind (tcp_close() -> tcp_disconnect() when the linger time is 0).

Workers die with the bench: PR_SET_PDEATHSIG kills them if the bench dies, they exit on EOF of
a pipe only the bench holds open, and ``Fleet.close()`` SIGKILLs each of them by pid and reaps it.
Only loopback (127.0.0.0/8) is ever used.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

SERVER_HOSTS = tuple(f"127.0.0.{i}" for i in range(2, 51))
CLIENT_SUBNET = "127.0.1.0/24"  # every pair has its client end here: how ss finds ours
CLIENT_HOSTS = tuple(f"127.0.1.{i}" for i in range(2, 251))
EXTRA_LISTENERS = 4  # idle listeners in the first server, so that LISTEN rows exist too
FD_MARGIN = 64  # stdio, pipes, the listeners
REAP_TIMEOUT_S = 15.0
# One more worker holds a handful of sockets of its own, for the filter cases (issue 14): a
# listener on FEW_PORT (below the ephemeral range, so no pair uses it) and FEW_PAIRS connections
# to it, in a process named FEW_NAME.
FEW_HOST, FEW_PORT, FEW_PAIRS, FEW_NAME = "127.0.0.1", 7777, 3, "bench-few"

# Not in the socket module before 3.12 on every build; values from <linux/in.h>, <linux/prctl.h>.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
LINGER_ABORT = struct.pack("ii", 1, 0)


class FleetError(Exception):
    """The connections could not be set up; the message says why."""


@dataclass(frozen=True)
class Chunk:
    index: int
    pairs: int
    server_host: str
    client_host: str


def plan_chunks(pairs: int, pairs_per_worker: int) -> list[Chunk]:
    """Cut ``pairs`` into chunks: ``plan_chunks(9000, 4000)`` -> pairs 4000, 4000, 1000."""
    chunks = []
    for index, start in enumerate(range(0, pairs, pairs_per_worker)):
        chunks.append(Chunk(index, min(pairs_per_worker, pairs - start),
                            SERVER_HOSTS[index % len(SERVER_HOSTS)],
                            CLIENT_HOSTS[index % len(CLIENT_HOSTS)]))
    return chunks


@dataclass(frozen=True)
class Message:
    """One line a worker writes on the report pipe: ``<chunk> <role> <event> <detail>``."""

    chunk: int
    role: str
    event: str  # "listening" (detail: port), "ready" (detail: sockets held), "error"
    detail: str

    @classmethod
    def parse(cls, line: str) -> Message:
        chunk, role, event, detail = line.split(" ", 3)
        return cls(int(chunk), role, event, detail)


class Fleet:
    """``with Fleet(pairs, ...) as fleet:`` -- the connections are open inside the block."""

    def __init__(self, pairs: int, pairs_per_worker: int, setup_timeout: float):
        self.chunks = plan_chunks(pairs, pairs_per_worker)
        self.setup_timeout = setup_timeout
        self.setup_seconds = 0.0
        self.workers = 0
        self.few_pid = 0  # the FEW_NAME worker
        self._pids: list[int] = []
        self._report_r, self._report_w = os.pipe()
        self._stop_r, self._stop_w = os.pipe()
        self._pending = b""

    def __enter__(self) -> Fleet:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        started = time.monotonic()
        deadline = started + self.setup_timeout
        for chunk in self.chunks:
            self._fork(chunk, "server", lambda c=chunk: self._serve(c))
        awaiting_ready = 2 * len(self.chunks)
        while awaiting_ready:
            for message in self._next_messages(deadline):
                chunk = self.chunks[message.chunk]
                if message.event == "error":
                    raise FleetError(f"{message.role} of chunk {chunk.index} "
                                     f"({chunk.server_host}): {message.detail}")
                if message.event == "listening":
                    port = int(message.detail)
                    self._fork(chunk, "client", lambda c=chunk, p=port: self._connect(c, p))
                elif message.event == "ready":
                    awaiting_ready -= 1
        self._open_few()
        self.setup_seconds = time.monotonic() - started
        self.workers = len(self._pids)

    def close(self) -> None:
        """SIGKILL every worker by pid, then reap them all; bounded by REAP_TIMEOUT_S."""
        for pid in self._pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + REAP_TIMEOUT_S
        while self._pids and time.monotonic() < deadline:
            self._pids = [pid for pid in self._pids if not _reaped(pid)]
            if self._pids:
                time.sleep(0.02)
        if self._pids:
            print(f"warning: {len(self._pids)} workers not reaped: {self._pids}", file=sys.stderr)
        for fd in (self._report_r, self._report_w, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._report_r = self._report_w = self._stop_r = self._stop_w = -1

    def _next_messages(self, deadline: float) -> list[Message]:
        """Wait for worker messages; fail on the deadline or when a worker dies without one."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FleetError(f"setup took more than {self.setup_timeout:g}s "
                                 "(see --setup-timeout)")
            readable, _, _ = select.select([self._report_r], [], [], min(remaining, 0.5))
            if readable:
                self._pending += os.read(self._report_r, 65536)
                *lines, self._pending = self._pending.split(b"\n")
                if lines:
                    return [Message.parse(line.decode()) for line in lines]
            for pid in self._pids:
                ended, status = os.waitpid(pid, os.WNOHANG)
                if ended:
                    self._pids.remove(pid)
                    raise FleetError(f"worker {pid} exited unexpectedly "
                                     f"(status {os.waitstatus_to_exitcode(status)})")

    def _fork(self, chunk: Chunk, role: str, body: Callable[[], list[socket.socket]]) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid:
            self._pids.append(pid)
            return
        # In the worker: never return into the bench's stack, whatever happens.
        try:
            self._become_worker(parent, f"bench-{role}-{chunk.index}")
            _sockets_held_open = body()
            os.read(self._stop_r, 1)  # returns b"" once the bench is gone
        except BaseException as exc:
            self._report(chunk, role, "error", repr(exc))
            os._exit(1)
        os._exit(0)

    def _open_few(self) -> None:
        """Fork the FEW_NAME worker and wait until its sockets are open."""
        ready_r, ready_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid:
            self._pids.append(pid)
            os.close(ready_w)
            said = os.read(ready_r, 16)  # b"" if it died first
            os.close(ready_r)
            if said != b"ready":
                raise FleetError(f"the {FEW_NAME} worker could not open its sockets")
            self.few_pid = pid
            return
        try:
            os.close(ready_r)
            self._become_worker(parent, FEW_NAME)
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
            listener.bind((FEW_HOST, FEW_PORT))
            listener.listen(FEW_PAIRS)
            _sockets_held_open = [listener]
            for _ in range(FEW_PAIRS):
                client = socket.create_connection((FEW_HOST, FEW_PORT))
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
                _sockets_held_open += [client, listener.accept()[0]]
            os.write(ready_w, b"ready")
            os.read(self._stop_r, 1)
        except BaseException:
            os._exit(1)
        os._exit(0)

    def _become_worker(self, parent: int, name: str) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the bench died before prctl took effect
            os._exit(1)
        libc.prctl(PR_SET_NAME, name.encode()[:15])
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench cleans up on Ctrl-C
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(self._report_r)
        os.close(self._stop_w)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def _report(self, chunk: Chunk, role: str, event: str, detail: object) -> None:
        line = f"{chunk.index} {role} {event} {detail}".replace("\n", " ")[:500] + "\n"
        os.write(self._report_w, line.encode())

    def _serve(self, chunk: Chunk) -> list[socket.socket]:
        listener = _listener(chunk.server_host, backlog=chunk.pairs)
        extras = [_listener(chunk.server_host, backlog=16)
                  for _ in range(EXTRA_LISTENERS if chunk.index == 0 else 0)]
        self._report(chunk, "server", "listening", listener.getsockname()[1])
        listener.settimeout(self.setup_timeout)
        accepted = []
        for _ in range(chunk.pairs):
            connection, _ = listener.accept()
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
            accepted.append(connection)
        self._report(chunk, "server", "ready", len(accepted))
        return [listener, *extras, *accepted]

    def _connect(self, chunk: Chunk, port: int) -> list[socket.socket]:
        connected = []
        for _ in range(chunk.pairs):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            connected.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
            # Pick the source port at connect() time, unique per 4-tuple, not per address.
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((chunk.client_host, 0))
            sock.settimeout(self.setup_timeout)
            sock.connect((chunk.server_host, port))
        self._report(chunk, "client", "ready", len(connected))
        return connected


def _listener(host: str, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
    sock.bind((host, 0))
    sock.listen(backlog)
    return sock


def _reaped(pid: int) -> bool:
    try:
        ended, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return bool(ended)
