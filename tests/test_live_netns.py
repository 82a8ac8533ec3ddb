"""``--live --netns TARGET`` (issue 20) in Textual's headless pilot: the live view inside a
network namespace the test makes, entered as cli.main enters it. The connection table lists a
connection made inside it (and none of the host's), the routes screen a route the test added
there through an interface whose name is markup and a terminal escape, and the counters screen
that interface's counters: every such name shown as text."""

from __future__ import annotations

import io
import os
import socket
import subprocess

import pytest

pytest.importorskip("textual")

from pynetstat.cli import parse_args  # noqa: E402
from pynetstat.env import Environment  # noqa: E402
from pynetstat.modes.live.app import LiveApp  # noqa: E402
from pynetstat.modes.live.collector import Collector  # noqa: E402
from test_live import drive, table_rows, until  # noqa: E402
from test_live_screens import counter, sheet  # noqa: E402

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a namespace")]

HOSTILE = "[b]x\x1b"  # markup, then an escape: a valid interface name (no '/', ':' or space)


@pytest.fixture
def namespace():
    """A network namespace of the test's: lo up, and a veth pair, one end named HOSTILE with a
    route through it."""
    name = f"pylive-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for argv in (["link", "set", "lo", "up"],
                     ["link", "add", "name", HOSTILE, "type", "veth", "peer", "name", "pv0"],
                     ["link", "set", HOSTILE, "up"], ["link", "set", "pv0", "up"],
                     ["route", "add", "192.0.2.0/24", "dev", HOSTILE, "metric", "77"]):
            subprocess.run(["ip", "-n", name, *argv], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def netns_app(argv: list[str], interval: float = 0.5) -> LiveApp:
    """``--live ARGV`` as cli.main runs it: the environment entered into --netns's namespace."""
    from pynetstat.modes.netns import entered

    opts = parse_args(["--live", *argv])
    env = entered(opts.netns, Environment(io.StringIO(), io.StringIO()))
    return LiveApp(Collector(opts, env), interval)


def test_connections_routes_and_counters_of_the_namespace_hostile_names_as_text(namespace):
    from pynetstat.linux.nsenter import call_in

    def pair():
        lst = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(lst.getsockname())
        server, _ = lst.accept()
        return lst, client, server

    inside = call_in(f"/run/netns/{namespace}", pair)
    _lst, client, server = inside
    # a host connection of this process: not in the namespace's view
    host_lst = socket.create_server(("127.0.0.1", 0))
    host_client = socket.create_connection(host_lst.getsockname())
    app = netns_app(["-n", "-r", "--netns", namespace, "--pid", str(os.getpid())])
    escaped = "[b]x\\x1b"

    async def scenario(pilot):
        await until(pilot, lambda: sheet(app, "routes"), "the namespace's routes")
        # IPv4: the route the test added (IPv6: the veth ends' link-local routes)
        assert [r for r in sheet(app, "routes") if ":" not in r[0]] == [
            ("192.0.2.0/24", "On-link", escaped, "77", "main", "unicast", "boot")]
        await until(pilot, lambda: ("fe80::/64", "On-link", escaped)
                    in {r[:3] for r in sheet(app, "routes")}, "the link-local route")
        await pilot.press("v")  # the connections
        ends = {(f"127.0.0.1:{s.getsockname()[1]}", f"127.0.0.1:{s.getpeername()[1]}")
                for s in (client, server)}
        await until(pilot, lambda: {(r[2], r[3]) for r in table_rows(app)} == ends,
                    "the namespace's pair, and nothing of the host's")
        await pilot.press("v")  # the counters
        await until(pilot, lambda: counter(app, f"{escaped}.tx_packets") is not None,
                    "the veth's counters")
        names = {row[1] for row in sheet(app, "counters") if row[0] == "-e"}
        assert {n.partition(".")[0] for n in names} == {"lo", escaped, "pv0"}
        assert not any("\x1b" in cell for row in sheet(app, "counters") for cell in row)
        assert not any("\x1b" in cell for row in sheet(app, "routes") for cell in row)

    try:
        drive(app, scenario)
    finally:
        for s in (*inside, host_lst, host_client):
            s.close()


def test_close_key_closes_inside_the_namespace(namespace):
    """The close key's SOCK_DESTROY goes through the namespace's netlink source."""
    import errno

    from pynetstat.linux.nsenter import call_in
    from pynetstat.modes.live.app import Confirm

    def pair():
        lst = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(lst.getsockname())
        server, _ = lst.accept()
        return lst, client, server

    lst, client, server = call_in(f"/run/netns/{namespace}", pair)
    port = lst.getsockname()[1]
    app = netns_app(["-n", "--netns", namespace, "--lport", str(port),
                     "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: [r[4] for r in table_rows(app)] == ["ESTABLISHED"],
                    "the server end")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("y")
        await until(pilot, lambda: [r[0] for r in table_rows(app)] == ["-"], "the closed row")

    try:
        drive(app, scenario)
        server.settimeout(5)
        with pytest.raises(OSError) as caught:
            server.recv(1)
        assert caught.value.errno == errno.ECONNABORTED
    finally:
        for s in (lst, client, server):
            s.close()


def route_marks(app: LiveApp) -> dict[str, tuple[str, str]]:
    """Destination -> (the mark, the colour) of each IPv4 row on the routes screen."""
    table = app.query_one("#routes")
    out = {}
    for i in range(table.row_count):
        cells = table.get_row_at(i)
        if ":" not in cells[1].plain:
            out[cells[1].plain] = (cells[0].plain, str(cells[1].style))
    return out


def test_routes_that_come_green_and_go_red_then_leave(namespace):
    """A route added to the namespace's table while the screen is shown: green, marked ``+``;
    deleted: red, ``-``, for the hold, then gone. The route already there stays unmarked."""
    app = netns_app(["-n", "-r", "--netns", namespace], interval=0.25)
    app.collector.routes.hold = 2.0
    ip = ["ip", "-n", namespace, "route"]
    try:
        async def scenario(pilot):
            await until(pilot, lambda: "192.0.2.0/24" in route_marks(app), "the first reading")
            assert route_marks(app) == {"192.0.2.0/24": (" ", "")}
            count = app.route_sheet.count  # with the veth ends' IPv6 link-local routes
            subprocess.run([*ip, "add", "198.51.100.0/24", "dev", "pv0", "metric", "5"],
                           check=True)
            await until(pilot, lambda: "198.51.100.0/24" in route_marks(app), "the new route")
            assert route_marks(app) == {"192.0.2.0/24": (" ", ""),
                                        "198.51.100.0/24": ("+", "green")}
            assert f"{count + 1} routes" in str(app.status_bar.render())
            subprocess.run([*ip, "del", "198.51.100.0/24", "dev", "pv0", "metric", "5"],
                           check=True)
            await until(pilot, lambda: route_marks(app).get("198.51.100.0/24", ("",))[0] == "-",
                        "the route gone, red")
            assert route_marks(app)["198.51.100.0/24"] == ("-", "red")
            assert f"{count} routes" in str(app.status_bar.render())
            await until(pilot, lambda: "198.51.100.0/24" not in route_marks(app),
                        "the red row gone after the hold")
            assert route_marks(app) == {"192.0.2.0/24": (" ", "")}

        drive(app, scenario)
    finally:
        subprocess.run([*ip, "del", "198.51.100.0/24"], capture_output=True)
