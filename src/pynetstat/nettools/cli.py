"""The net-tools face's command line: argv -> NetToolsOptions, and the one error boundary.

``main(argv, env)`` is ``pynetstat.cli.main``'s twin; ``entry`` is the ``pynetstat-netstat``
console script, which ``pynetstat.cli.entry`` also reaches for a program called ``netstat`` or a
first argument ``--nettools``.
"""

from __future__ import annotations

from pynetstat import __version__
from pynetstat.console import guarded, run_console
from pynetstat.errors import Exit
from pynetstat.nettools.flags import USAGE, Help, Version, help_text, parse_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment

NAME = "pynetstat-netstat"


def version_text() -> str:
    return (f"{NAME} {__version__} (pynetstat's net-tools face)\n"
            "Layouts and options of net-tools 2.10 netstat, read from netlink and /proc.\n"
            "The Windows netstat face: pynetstat\n")


def main(argv: list[str], env: Environment) -> int:
    """Run the net-tools face with ``argv`` (no program name) in ``env``; the exit status."""
    return guarded(env, NAME, USAGE, lambda: _run(argv, env))


def _run(argv: list[str], env: Environment) -> int:
    try:
        opts = parse_args(argv)
    except Help:
        env.stdout.write(help_text())
        return Exit.OK
    except Version:
        env.stdout.write(version_text())
        return Exit.OK
    from pynetstat.nettools.show import run

    return run(opts, env)


def entry() -> None:
    """The ``pynetstat-netstat`` console script."""
    import sys

    run_console(main, sys.argv[1:], NAME)
