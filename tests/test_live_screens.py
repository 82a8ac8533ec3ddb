"""The live view's other screens (issue 20), in Textual's headless pilot against the real kernel:
``v`` switches from the connection table to the counters of ``-s``/``-e`` (value, rate per
second, a sparkline of the recent rates) and to the routes of ``-r``. A counter moves while the
test sends UDP datagrams on loopback; the routes screen lists the loopback routes. (In a
namespace the test makes, with hostile interface names: tests/test_live_netns.py.)"""

from __future__ import annotations

import os
import socket

import pytest

pytest.importorskip("textual")

from textual.widgets import DataTable  # noqa: E402

from pynetstat.modes.live.app import LiveApp  # noqa: E402
from pynetstat.modes.live.grid import Grid  # noqa: E402
from test_live import drive, make_app, until  # noqa: E402


def sheet(app: LiveApp, name: str, marks: bool = False) -> list[tuple[str, ...]]:
    """The rows of a screen's table. The routes screen's first column is the marks' (as the
    connection table's): left out unless ``marks``."""
    table = app.query_one(f"#{name}", DataTable if name == "counters" else Grid)
    rows = [tuple(cell.plain for cell in table.get_row_at(i)) for i in range(table.row_count)]
    return rows if marks or name == "counters" else [row[1:] for row in rows]


def counter(app: LiveApp, name: str) -> tuple[str, ...] | None:
    return next((row for row in sheet(app, "counters") if row[1] == name), None)


def status(app: LiveApp) -> str:
    return str(app.query_one("#status").render())


def test_v_switches_to_counters_that_move_with_udp_datagrams_then_routes():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    app = make_app(["-n", "-v", "--pid", str(os.getpid())], interval=0.5)

    async def scenario(pilot):
        await until(pilot, lambda: app.readings >= 1, "a first reading")
        assert app.screen_name == "connections"
        assert app.query_one("#table").display and not app.query_one("#counters").display
        await pilot.press("v")
        assert app.screen_name == "counters" and app.query_one("#counters").display
        assert not app.query_one("#table").display
        await until(pilot, lambda: counter(app, "Udp.OutDatagrams") is not None, "-s counters")
        first = counter(app, "Udp.OutDatagrams")
        assert first[0] == "-s"
        assert any(row[0] == "-e" and row[1] == "lo.rx_packets" for row in sheet(app, "counters"))
        seen = app.readings
        # 100 datagrams a refresh's worth, until the counter's rate says so
        sent = 0

        def moved() -> bool:
            row = counter(app, "Udp.OutDatagrams")
            return (app.readings >= seen + 3 and row[3] not in ("-", "0.0")
                    and int(row[2]) - int(first[2]) >= sent > 0)
        while not moved():
            for _ in range(20):
                tx.sendto(b"d", rx.getsockname())
            sent += 20
            await pilot.pause(0.1)
        row = counter(app, "Udp.OutDatagrams")
        assert float(row[3]) >= 20 / 0.5 / 2  # 20 per 0.1 s, at least a fraction of it
        assert row[4].strip() and set(row[4]) <= set(" ▁▂▃▄▅▆▇█")
        assert "counters" in status(app)
        # 4: by Rate/s; again: the busiest first
        await pilot.press("4", "4")
        assert "sort: Rate/s descending" in status(app)
        rates = [float(r[3]) for r in sheet(app, "counters") if r[3] != "-"]
        assert rates == sorted(rates, reverse=True)
        await pilot.press("v")
        assert app.screen_name == "routes"
        await until(pilot, lambda: any(r[0] == "127.0.0.0/8" for r in sheet(app, "routes")),
                    "the loopback route (-v: the local table)")
        lo = next(r for r in sheet(app, "routes") if r[0] == "127.0.0.0/8")
        assert (lo[2], lo[4], lo[5]) == ("lo", "local", "local")
        await pilot.press("v")
        assert app.screen_name == "connections" and app.query_one("#table").display

    try:
        drive(app, scenario)
    finally:
        rx.close()
        tx.close()


@pytest.mark.parametrize(("flag", "screen"), [("-s", "counters"), ("-e", "counters"),
                                              ("-r", "routes")])
def test_a_section_flag_opens_its_screen(flag, screen):
    app = make_app(["-n", flag], interval=0.5)

    async def scenario(pilot):
        assert app.screen_name == screen
        await until(pilot, lambda: sheet(app, screen), f"the {screen} screen filled")
        if flag == "-s":
            assert {row[0] for row in sheet(app, screen)} == {"-s"}
        if flag == "-e":
            assert {row[0] for row in sheet(app, screen)} == {"-e"}

    drive(app, scenario)
