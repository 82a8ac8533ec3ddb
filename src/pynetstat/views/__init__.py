"""Views: a snapshot as text or JSON pieces, its notes and counter readings; they never read the
kernel. ``connections.py`` is what a connection display says after its rows; ``interfaces.py``
(-e), ``statistics.py`` (-s) and ``routes.py`` (-r) are the spec's other views. Each of those offers
``render_text``, ``to_json``, ``counters`` and ``notes``. Which option asks for which view, and
which collector feeds it, is ``modes.SECTIONS``.
"""
