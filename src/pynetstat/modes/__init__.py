"""Modes drive displays: once (``once.py``), or every interval (``interval.py``). Each offers
``run(opts, env) -> exit status``; ``cli.main`` picks one."""
