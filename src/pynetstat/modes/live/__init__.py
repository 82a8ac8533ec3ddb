"""``--live``: the connection table on a full screen, refreshed every interval (a TCPView for the
terminal, issue 20; docs/live.md). Built on Textual, installed as the ``live`` extra; the core
never imports it: this module checks for it first and says how to install it.

modes/live/board.py (rows and their marks), collector.py (the readings, off the UI thread),
detail.py (the detail panel's text), rates.py (rates and sparklines) are plain Python; app.py
and its sheets.py (the counters and routes screens) alone are Textual.
"""

from __future__ import annotations

from pynetstat.errors import Exit, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.options import Options

INSTALL = "pip install 'pynetstat[live]'"
DEFAULT_INTERVAL = 1.0


def _refusal(text: str) -> UsageError:
    error = UsageError(text)
    error.usage = False
    return error


def run(opts: Options, env: Environment) -> int:
    from importlib.util import find_spec

    if find_spec("textual") is None:
        raise _refusal(f"--live needs Textual, which is not installed: {INSTALL}")
    if not env.stdout_isatty:
        raise _refusal("--live draws on a terminal: standard output is not one")
    from pynetstat.modes.live.app import LiveApp
    from pynetstat.modes.live.collector import Collector

    collector = Collector(opts, env)
    app = LiveApp(collector, opts.interval or DEFAULT_INTERVAL)
    try:
        app.run()
    finally:
        app.stopping.set()
        app.wake.set()
        collector.shutdown(wait=False)
    return app.return_code if app.return_code is not None else Exit.OK
