"""The net-tools face: Linux ``netstat``'s command line and layouts, on pynetstat's model.

Chosen by name, never guessed (``cli.entry``): the ``pynetstat-netstat`` console script, a program
called ``netstat`` (a link), or ``pynetstat --nettools ...``. Its modules are imported only then,
so a plain ``pynetstat -an`` pays nothing for them.

Flow, top to bottom as in the rest of the house: ``cli`` (argv -> NetToolsOptions, the error
boundary) -> ``show`` (which tables, once or every interval) -> ``layout``/``tables``/``stats``
(rows as net-tools prints them; ``jsonout`` and ``tables.records`` the same rows as data;
``families`` what -v says) -> ``sources`` (what the kernel says, through linux/, filtered by
select.py as in the Windows face).
"""
