"""The process around a face's ``main``: real streams, the exit status, quiet on a closed pipe.

Both faces run through here: ``pynetstat.cli`` (the Windows grammar) and
``pynetstat.nettools.cli`` (net-tools'); neither imports the other's module for it.
"""

from __future__ import annotations

import sys

from pynetstat.errors import Exit, OutputError, PynetstatError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pynetstat.env import Environment

# Exit statuses after which what is left in stdout's buffer is dropped: the reader left, or a
# signal ended the run (which must end now, whatever the reader does; docs/interval.md).
UNFLUSHED = (Exit.BROKEN_PIPE, Exit.INTERRUPTED, Exit.TERMINATED)


def complain(env: Environment, text: str) -> None:
    """The one line that says why the run failed, if there is a stderr to say it on."""
    try:
        env.stderr.write(text)
        env.stderr.flush()
    except (OSError, OutputError):
        pass


def guarded(env: Environment, name: str, usage: str, run: Callable[[], int]) -> int:
    """``run()``'s exit status; every error of a face's run ends here, as one line on stderr
    (with the usage after a command-line error) and its exit status."""
    try:
        return run()
    except UsageError as e:
        complain(env, f"{name}: {e}\n{usage}\n" if e.usage else f"{name}: {e}\n")
        return e.exit_status
    except PynetstatError as e:
        complain(env, f"{name}: {e}\n")
        return e.exit_status
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except BrokenPipeError:
        return Exit.BROKEN_PIPE


def run_console(main: Callable[[list[str], Environment], int], argv: list[str],
                name: str = "pynetstat") -> None:
    """Run ``main(argv, env)`` in the real environment and exit with its status; one line on
    stderr when the output cannot be written."""
    from pynetstat.env import Environment

    env = Environment.from_process()
    try:
        status = main(argv, env)
        if status not in UNFLUSHED:
            env.stdout.flush()
    except BrokenPipeError:
        status = Exit.BROKEN_PIPE
    except KeyboardInterrupt:
        status = Exit.INTERRUPTED
    except OutputError as e:
        complain(env, f"{name}: {e}\n")
        status = e.exit_status
    if (status in UNFLUSHED or getattr(env.stdout, "failed", False)) and sys.stdout is not None:
        # Python flushes stdout once more at exit, which would fail again (and print "Exception
        # ignored"), or after a signal wait on a reader that stopped reading, or add to a line
        # that the signal cut: what is left in its buffer is not written: point it at /dev/null.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(status)
