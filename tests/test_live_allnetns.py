"""``--live --all-netns`` (issues 15 and 20) in Textual's headless pilot: two network namespaces
made by the test, each holding a connection between the same ports, and the host's own: every
row once, in a Namespace column after the Process; the close key's SOCK_DESTROY goes through
the row's own namespace (its socket sees ECONNABORTED, the same ends in the other namespace stay
open). Oracle: ``ip netns exec NS ss -tnH`` for each namespace's ends."""

from __future__ import annotations

import errno
import io
import os
import socket
import subprocess

import pytest

pytest.importorskip("textual")

from pynetstat.cli import parse_args  # noqa: E402
from pynetstat.env import Environment  # noqa: E402
from pynetstat.linux.nsenter import call_in  # noqa: E402
from pynetstat.modes.live.app import Confirm, LiveApp  # noqa: E402
from pynetstat.modes.live.collector import Collector  # noqa: E402
from test_live import drive, table_rows, until  # noqa: E402

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make namespaces")]


@pytest.fixture
def namespaces():
    names = [f"pyla{i}-{os.getpid()}" for i in (1, 2)]
    made = []
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=True)


def pair_on(port: int):
    """A listener on 127.0.0.1:``port`` (0: any) and a connection to it, in this thread's
    namespace."""
    lst = socket.create_server(("127.0.0.1", port))
    client = socket.create_connection(lst.getsockname())
    server, _ = lst.accept()
    return lst, client, server


def ends(client: socket.socket) -> set[tuple[str, str]]:
    local = f"127.0.0.1:{client.getsockname()[1]}"
    remote = f"127.0.0.1:{client.getpeername()[1]}"
    return {(local, remote), (remote, local)}


def ss_ends(ns: str, port: int) -> set[tuple[str, str]]:
    out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tnH", "state", "established",
                          f"( sport = :{port} or dport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return {(f[2], f[3]) for f in (line.split() for line in out.splitlines())}


def app_of(argv: list[str]) -> LiveApp:
    opts = parse_args(["--live", *argv])
    return LiveApp(Collector(opts, Environment(io.StringIO(), io.StringIO())), 0.5)


def test_every_namespace_once_with_its_label(namespaces):
    a, b = namespaces
    in_a = call_in(f"/run/netns/{a}", lambda: pair_on(0))
    port = in_a[0].getsockname()[1]
    in_b = call_in(f"/run/netns/{b}", lambda: pair_on(port))  # the same ports in both
    on_host = pair_on(0)
    app = app_of(["-n", "--all-netns", "--pid", str(os.getpid())])
    want = ({(local, remote, a) for local, remote in ends(in_a[1])}
            | {(local, remote, b) for local, remote in ends(in_b[1])}
            | {(local, remote, "host") for local, remote in ends(on_host[1])})
    assert ends(in_a[1]) == ss_ends(a, port) and ends(in_b[1]) == ss_ends(b, port)

    async def scenario(pilot):
        assert app.collector.columns[6] == "Namespace"
        await until(pilot, lambda: {(r[2], r[3], r[7]) for r in table_rows(app)} == want,
                    "each namespace's pair and the host's, each labelled")
        assert len(table_rows(app)) == len(want)  # none twice
        assert {r[5] for r in table_rows(app)} == {str(os.getpid())}

    try:
        drive(app, scenario)
    finally:
        for s in (*in_a, *in_b, *on_host):
            s.close()


def test_close_goes_through_the_rows_namespace(namespaces):
    a, b = namespaces
    in_a = call_in(f"/run/netns/{a}", lambda: pair_on(0))
    port = in_a[0].getsockname()[1]
    in_b = call_in(f"/run/netns/{b}", lambda: pair_on(port))
    # --lport: the server end in each namespace, one row each
    app = app_of(["-n", "--all-netns", "--lport", str(port), "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: sorted(r[7] for r in table_rows(app)) == sorted([a, b]),
                    "the server end in each namespace")
        rows = table_rows(app)
        for _ in range([r[7] for r in rows].index(b)):
            await pilot.press("down")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("y")
        await until(pilot, lambda: {(r[0], r[7]) for r in table_rows(app)} == {(" ", a), ("-", b)},
                    "b's row closed, a's still open")

    try:
        drive(app, scenario)
        in_b[2].settimeout(5)
        with pytest.raises(OSError) as caught:
            in_b[2].recv(1)
        assert caught.value.errno == errno.ECONNABORTED
        in_a[2].setblocking(False)
        with pytest.raises(BlockingIOError):  # still open: nothing to read, no error
            in_a[2].recv(1)
    finally:
        for s in (*in_a, *in_b):
            s.close()
