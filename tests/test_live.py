"""``--live`` (issue 20) driven by Textual's headless pilot (App.run_test) against the real kernel:
the test opens loopback connections and processes, the app lists them (its filter narrowed to
the test's ports, so the rows are exact), and the test presses keys: sorting, the filter box,
the green/red/yellow marks of a connection the test opens and then closes, the detail panel of
a process the test started, closing a connection through the confirmation. Escaping: a process
whose name is markup and a terminal escape shows both as text.

Without Textual (the live extra) the whole module skips, and the refusal is tested by running
the launcher with the system's Python, which has no Textual.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
import struct
import subprocess
import sys
import time

import pytest

from conftest import LAUNCHER
from pynetstat.cli import parse_args
from pynetstat.env import Environment

SYSTEM_PYTHON = "/usr/bin/python3"


def _system_python_lacks_textual() -> bool:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import textual"], capture_output=True,
                          timeout=60).returncode != 0


@pytest.mark.skipif(not _system_python_lacks_textual(),
                    reason=f"needs {SYSTEM_PYTHON} without Textual to show the refusal")
def test_without_textual_one_line_says_how_to_install_it():
    p = subprocess.run([SYSTEM_PYTHON, LAUNCHER, "--live", "-an"], capture_output=True, text=True,
                       timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == ("pynetstat: --live needs Textual, which is not installed: "
                        "pip install 'pynetstat[live]'\n")


@pytest.mark.parametrize(("argv", "line"), [
    (["--live", "--csv"], "pynetstat: --live cannot be combined with --csv"),
    (["--live", "--json"], "pynetstat: --live cannot be combined with --json"),
    (["--live", "--close", "--lport", "1"], "pynetstat: --live cannot be combined with --close"),
])
def test_live_refuses_what_it_does_not_show(argv, line):
    p = subprocess.run([sys.executable, LAUNCHER, *argv], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and p.stderr.splitlines()[0] == line


textual = pytest.importorskip("textual")

from pynetstat.modes.live.app import Confirm, Detail, LiveApp  # noqa: E402
from pynetstat.modes.live.collector import Collector  # noqa: E402
from pynetstat.modes.live.grid import Grid  # noqa: E402


def test_not_on_a_terminal_one_line():
    p = subprocess.run([sys.executable, LAUNCHER, "--live", "-an"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == "pynetstat: --live draws on a terminal: standard output is not one\n"


# --- the pilot ------------------------------------------------------------------------------

def make_app(argv: list[str], interval: float = 0.2, hold: float = 30.0) -> LiveApp:
    """The app for ``--live ARGV``. Tests about this process's sockets add ``--pid`` of it: the
    owner walk then reads only its fd table, not every process's (a loaded host holding 200k
    sockets took 10 s for the first reading otherwise)."""
    opts = parse_args(["--live", *argv])
    collector = Collector(opts, Environment(io.StringIO(), io.StringIO()))
    return LiveApp(collector, interval, hold=hold)


def drive(app: LiveApp, scenario, size=(160, 40)):
    """Run ``await scenario(pilot)`` inside the headless app; the collector is shut after."""
    async def main():
        async with app.run_test(size=size) as pilot:
            await scenario(pilot)
    try:
        asyncio.run(asyncio.wait_for(main(), 300))
    finally:
        app.collector.shutdown()


async def until(pilot, check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"not within {timeout} s: {what}; rows: {table_rows(pilot.app)}")


def table_rows(app: LiveApp) -> list[tuple[str, ...]]:
    """The connection table's rows, as the table draws them (mark first)."""
    table = app.query_one("#table", Grid)
    return [tuple(cell.plain for cell in table.get_row_at(i)) for i in range(table.row_count)]


def styles(app: LiveApp) -> dict[tuple[str, str], str]:
    """(local, foreign) -> the style of the row's cells."""
    table = app.query_one("#table", Grid)
    out = {}
    for i in range(table.row_count):
        cells = table.get_row_at(i)
        out[(cells[2].plain, cells[3].plain)] = str(cells[1].style)
    return out


def end(sock: socket.socket, peer: bool = False) -> str:
    host, port = sock.getpeername() if peer else sock.getsockname()
    return f"{host}:{port}"


def row(sock: socket.socket, state="ESTABLISHED", mark=" ", pid=None, process="python") -> tuple:
    """The live table's row for one of this process's sockets."""
    pid = os.getpid() if pid is None else pid
    return (mark, "TCP", end(sock), end(sock, peer=True), state, str(pid), process)


@pytest.fixture
def held():
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


def listener(held) -> tuple[socket.socket, int]:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    held.append(lst)
    return lst, lst.getsockname()[1]


def connect(held, lst) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    held += [client, server]
    return client, server


def comm() -> str:
    with open("/proc/self/comm") as f:
        return f.read().strip()


def test_sorting_by_a_column_and_back(held):
    lst, port = listener(held)
    pairs = [connect(held, lst) for _ in range(3)]
    servers = [server for _, server in pairs]
    app = make_app(["-n", "--lport", str(port), "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == 3, "three rows")
        expected = sorted((row(s, process=comm()) for s in servers),
                          key=lambda r: int(r[3].rpartition(":")[2]))
        await pilot.press("3")  # Foreign Address
        assert table_rows(app) == expected
        await pilot.press("3")
        assert table_rows(app) == expected[::-1]
        assert "sort: Foreign Address descending" in str(app.query_one("#status").render())

    drive(app, scenario)


def test_filter_box_narrows_and_says_what_is_wrong(held):
    lst_a, port_a = listener(held)
    lst_b, port_b = listener(held)
    _, server_a = connect(held, lst_a)
    _, server_b = connect(held, lst_b)
    app = make_app(["-n", "--lport", f"{port_a},{port_b}", "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == 2, "both servers")
        await pilot.press("slash")
        await pilot.press(*"--lport nope")
        await pilot.press("enter")
        status = str(app.query_one("#status").render())
        assert "--lport: unknown service 'nope'" in status
        assert len(table_rows(app)) == 2  # a bad filter changes nothing
        box = app.query_one("#filter")
        box.value = ""
        await pilot.press(*f"--lport {port_b}")
        await pilot.press("enter")
        await until(pilot, lambda: table_rows(app) == [row(server_b, process=comm())],
                    "only port b")
        assert f"filter: --lport {port_b}" in str(app.query_one("#status").render())

    drive(app, scenario)


def test_new_rows_green_closed_red_changed_yellow(held):
    lst, port = listener(held)
    app = make_app(["-n", "--port", str(port), "--pid", str(os.getpid())], hold=30.0)

    async def scenario(pilot):
        await until(pilot, lambda: app.readings >= 1, "a first reading")
        assert table_rows(app) == []
        client, server = connect(held, lst)
        await until(pilot, lambda: len(table_rows(app)) == 2, "the new pair")
        assert set(table_rows(app)) == {row(client, mark="+", process=comm()),
                                         row(server, mark="+", process=comm())}
        assert set(styles(app).values()) == {"green"}
        # The client closes: it goes to FIN_WAIT_2, its peer to CLOSE_WAIT (yellow).
        ends = {s: (end(s), end(s, peer=True)) for s in (client, server)}
        client.shutdown(socket.SHUT_WR)
        await until(pilot, lambda: {r[4] for r in table_rows(app)} == {"FIN_WAIT_2", "CLOSE_WAIT"},
                    "the changed states")
        assert {r[0] for r in table_rows(app)} == {"~"}
        assert set(styles(app).values()) == {"yellow"}
        # Both reset (linger 0): gone from the kernel, red on the board.
        for s in (client, server):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        await until(pilot, lambda: {r[0] for r in table_rows(app)} == {"-"}, "closed rows")
        assert set(styles(app)) == set(ends.values())
        assert set(styles(app).values()) == {"red"}

    drive(app, scenario)


def test_closed_rows_leave_after_the_hold(held):
    lst, port = listener(held)
    app = make_app(["-n", "--port", str(port), "--pid", str(os.getpid())], hold=0.5)

    async def scenario(pilot):
        await until(pilot, lambda: app.readings >= 1, "a first reading")
        client, server = connect(held, lst)
        await until(pilot, lambda: len(table_rows(app)) == 2, "the new pair")
        for s in (client, server):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        await until(pilot, lambda: table_rows(app) == [], "the closed rows gone")

    drive(app, scenario)


CHILD = ("import socket, sys, time\n"
         "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
         "open('/proc/self/comm', 'w').write(sys.argv[2])\n"
         "print('ready', flush=True)\n"
         "time.sleep(60)\n")


@pytest.fixture
def child(held):
    """Start a process that connects to a listener of ours and names itself; kill it after."""
    procs = []

    def start(name: str):
        lst, port = listener(held)
        p = subprocess.Popen([sys.executable, "-c", CHILD, str(port), name, "--marker"],
                             stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline() == "ready\n"
        server, _ = lst.accept()
        held.append(server)
        return p, port, server
    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_detail_panel_of_a_test_made_process(child):
    p, port, server = child("livechild")
    app = make_app(["-n", "--pid", str(p.pid)])

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == 1, "the child's socket")
        assert table_rows(app)[0][5:] == (str(p.pid), "livechild")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, Detail), "the detail panel")
        lines = app.screen.lines
        text = "\n".join(lines)
        assert f"Process {p.pid}  livechild" in lines
        assert f"  executable  {os.path.realpath(sys.executable)}" in lines
        assert f"  command     {sys.executable} -c " in text and f" {port} livechild --marker" in text
        assert "  user        root (0)" in lines or os.geteuid() != 0
        ancestry = next(line for line in lines if line.startswith("  ancestry    "))
        assert ancestry.startswith(f"  ancestry    {comm()} ({os.getpid()}) < ")
        assert "  sockets     1" in lines
        # The socket, asked of the kernel alone: no timer pending on an idle connection, its
        # tcp_info, and the host's default congestion control (nothing set it otherwise).
        assert "  timer       off" in lines
        assert any(line.startswith("  tcp_info    rtt ") and ", cwnd 10, retransmitted 0, " in line
                   for line in lines), text
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            assert f"  congestion  {f.read().strip()}" in lines
        assert f"    TCP 127.0.0.1:{server.getpeername()[1]} -> 127.0.0.1:{port} ESTABLISHED" in lines
        seen = app.readings  # readings go on while the panel is open
        await until(pilot, lambda: app.readings >= seen + 2, "readings under the panel")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, Detail), "back to the table")

    drive(app, scenario)


def test_untrusted_process_names_are_shown_as_text(child):
    p, _, _ = child("[red]x\x1b[2J")
    app = make_app(["-n", "--pid", str(p.pid)])

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == 1, "the child's socket")
        assert table_rows(app)[0][6] == "[red]x\\x1b[2J"

    drive(app, scenario)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="closing a socket needs CAP_NET_ADMIN (root)")
def test_close_key_asks_then_closes_the_connection(held):
    lst, port = listener(held)
    client, server = connect(held, lst)
    app = make_app(["-n", "--lport", str(port), "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: table_rows(app) == [row(server, process=comm())], "the server end")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        assert f"TCP {end(server)} -> {end(server, peer=True)} ESTABLISHED" in app.screen.question
        assert f"held by {comm()} ({os.getpid()})" in app.screen.question
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, Confirm), "the answer")
        client.sendall(b"x")
        assert server.recv(1) == b"x"  # "n": still open
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: [r[0] for r in table_rows(app)] == ["-"], "the closed row")
        server.settimeout(5)
        with pytest.raises(OSError) as caught:
            server.recv(1)
        assert caught.value.errno == errno.ECONNABORTED

    drive(app, scenario)


def _close_as_nobody(port: int, w: int) -> None:  # pragma: no cover - the forked child
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    app = make_app(["-n", "--lport", str(port)])
    said = []

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == 1, "the server end")
        said.append(table_rows(app)[0][5])
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("y")
        await until(pilot, lambda: "cannot close" in app.message, "the refusal")
        said.append(app.message)
        said.append(str(app.query_one("#status").render()))

    drive(app, scenario)
    os.write(w, "\0".join(said).encode())


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to uid 65534")
def test_close_key_without_privilege_says_so(held):
    from pynetstat.linux.destroy import DENIED

    lst, port = listener(held)
    client, server = connect(held, lst)
    # Every module the app needs is loaded first: uid 65534 may not read this interpreter's tree.
    warm = make_app(["-n", "--lport", str(port), "--pid", str(os.getpid())])

    async def look(pilot):
        await until(pilot, lambda: len(table_rows(warm)) == 1, "the server end")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(warm.screen, Confirm), "the question")
        await pilot.press("n")
    drive(warm, look)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            for sock in held:
                sock.close()  # the fork's copies: else the child would own them
            _close_as_nobody(port, w)
        except BaseException as e:
            os.write(w, f"error\0{e!r}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        said = f.read().decode().split("\0")
    os.waitpid(pid, 0)
    assert said[:2] == ["-", DENIED], said  # no visible owner for uid 65534; the refusal
    assert DENIED in said[2]  # in the status bar
    client.sendall(b"x")
    assert server.recv(1) == b"x"  # still open


def test_pause_holds_the_table_and_resume_catches_up(held):
    lst, port = listener(held)
    app = make_app(["-n", "--port", str(port), "--pid", str(os.getpid())], interval=0.2)

    async def scenario(pilot):
        await until(pilot, lambda: app.readings >= 1, "a first reading")
        await pilot.press("p")
        assert "PAUSED" in str(app.status_bar.render())
        await pilot.pause(0.5)  # a reading in flight when p was pressed lands
        frozen = app.readings
        client, server = connect(held, lst)
        await pilot.pause(1.0)
        assert (app.readings, table_rows(app)) == (frozen, [])
        await pilot.press("p")
        await until(pilot, lambda: len(table_rows(app)) == 2, "the pair after resuming")
        assert {r[0] for r in table_rows(app)} == {"+"}
        await pilot.press("minus")  # half as often
        assert "every 0.4 s" in str(app.status_bar.render())
        await pilot.press("plus", "plus")  # 0.1 s: held at the floor
        assert "every 0.25 s" in str(app.status_bar.render())

    drive(app, scenario)


def test_q_does_not_wait_for_a_reading_in_progress(held):
    """A reading can take seconds (the first at 20k sockets on a busy host); q must not wait.
    The test holds the collector's lock, so the next reading blocks as a slow one would."""
    lst, port = listener(held)
    app = make_app(["-n", "--lport", str(port), "--pid", str(os.getpid())], interval=0.2)
    pressed = []

    async def main():
        async with app.run_test() as pilot:
            await until(pilot, lambda: app.readings >= 1, "a first reading")
            app.collector.lock.acquire()
            await pilot.pause(0.5)  # the collector thread is now waiting inside read()
            pressed.append(time.monotonic())
            await pilot.press("q")
    try:
        asyncio.run(asyncio.wait_for(main(), 300))
        quit_took = time.monotonic() - pressed[0]
    finally:
        app.collector.lock.release()
        app.collector.shutdown()
    assert app.return_code == 0
    assert quit_took < 5.0  # was 14 s with a Textual thread worker: the app waited for it
