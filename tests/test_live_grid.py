"""The live view's connection table at more rows than the screen holds (issue 20: "rows rendered
only for what is on screen"), in Textual's headless pilot against the real kernel: the test
holds 40 loopback connections (80 rows), the table draws the lines in view only, the cursor
scrolls them (down, page down, end, home), a click on a heading sorts and again reverses, and a
sort of more rows than SORT_AT_ONCE is arranged on a thread while the cursor keeps its socket.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("textual")

from pynetstat.modes.live import app as live_app  # noqa: E402
from test_live import comm, connect, drive, listener, make_app, row, table_rows, until  # noqa: E402

PAIRS = 40
SIZE = (120, 16)  # the table: 14 lines high (the status bar and the footer take the others)


@pytest.fixture
def held(sockets):
    return sockets  # conftest's: the test's sockets, closed after it


def drawn(app) -> list[str]:
    """The table's lines as drawn now (render_line of each line on screen), right-trimmed."""
    table = app.table
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


def ordered(held_pairs) -> list[tuple[str, ...]]:
    """The server ends' rows, by the client's port (the Foreign Address column)."""
    servers = [server for _, server in held_pairs]
    return sorted((row(s, process=comm()) for s in servers),
                  key=lambda r: int(r[3].rpartition(":")[2]))


def test_only_the_lines_in_view_are_drawn_and_the_cursor_scrolls_them(held):
    lst, port = listener(held)
    pairs = [connect(held, lst) for _ in range(PAIRS)]
    app = make_app(["-n", "--lport", str(port), "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == PAIRS, "the server ends")
        await pilot.press("3")  # by Foreign Address: a known order
        rows = ordered(pairs)
        assert table_rows(app) == rows
        table = app.table
        height = table.size.height
        assert height == 14
        lines = drawn(app)
        assert lines[0].split() == ["Proto", "Local", "Address", "Foreign", "Address", "State",
                                    "PID", "Process"]
        # the first 13 rows, each as its cells, then nothing of the others
        assert [line.split() for line in lines[1:]] == [list(r[1:]) for r in rows[:height - 1]]
        await pilot.press("end")
        assert table.cursor == PAIRS - 1
        assert [line.split() for line in drawn(app)[1:]] == [list(r[1:]) for r in
                                                             rows[-(height - 1):]]
        assert drawn(app)[0].split()[0] == "Proto"  # the heading stays
        await pilot.press("home", "pagedown")
        assert table.cursor == height - 1
        assert drawn(app)[-1].split() == list(rows[table.cursor][1:])
        await pilot.press("down")
        assert drawn(app)[-1].split() == list(rows[table.cursor][1:])
        assert drawn(app)[1].split() == list(rows[2][1:])

    drive(app, scenario, size=SIZE)


def test_a_click_on_a_heading_sorts_and_again_the_other_way(held):
    lst, port = listener(held)
    pairs = [connect(held, lst) for _ in range(5)]
    app = make_app(["-n", "--lport", str(port), "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == 5, "the server ends")
        widths = app.table.widths
        foreign = sum(widths[:3]) + 2 * 3 + 1  # mark, Proto, Local (a space either side), in
        await pilot.click("#table", offset=(foreign, 0))
        assert table_rows(app) == ordered(pairs)
        assert "sort: Foreign Address ascending" in str(app.status_bar.render())
        await pilot.click("#table", offset=(foreign, 0))
        assert table_rows(app) == ordered(pairs)[::-1]

    drive(app, scenario, size=SIZE)


def test_a_large_sort_runs_on_a_thread_and_the_cursor_keeps_its_socket(held, monkeypatch):
    monkeypatch.setattr(live_app, "SORT_AT_ONCE", 1)  # every sort of two rows or more: a thread
    lst, port = listener(held)
    pairs = [connect(held, lst) for _ in range(8)]
    app = make_app(["-n", "--lport", str(port), "--pid", str(os.getpid())])

    async def scenario(pilot):
        await until(pilot, lambda: len(table_rows(app)) == 8, "the server ends")
        await pilot.press("down", "down", "down")
        chosen = app.selected()
        await pilot.press("3")
        await until(pilot, lambda: table_rows(app) == ordered(pairs), "sorted by the thread")
        assert app.selected() is chosen
        assert table_rows(app)[app.table.cursor][2:4] == (
            f"127.0.0.1:{chosen.sock.local_port}",
            f"127.0.0.1:{chosen.sock.remote_port}")
        await pilot.press("3")  # the other way: the list reversed, at once
        assert table_rows(app) == ordered(pairs)[::-1]
        assert app.selected() is chosen

    drive(app, scenario, size=SIZE)
