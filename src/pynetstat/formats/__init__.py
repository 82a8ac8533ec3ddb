"""Output formats: one strategy class per format, chosen once from the options.

Every format has the same methods (``formats/text.py`` documents them); modes and views never
ask which format they feed. Adding a format is a row in ``FORMATS``, one module that defines its
class, and the option that names it in ``format_name``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.options import Options
    from pynetstat.session import Session

# format name -> (module, class); the module is imported only when its format is chosen.
FORMATS = {
    "text": ("pynetstat.formats.text", "TextFormat"),
    "json": ("pynetstat.formats.json", "JsonFormat"),
    "csv": ("pynetstat.formats.csv", "CsvFormat"),
}


def format_name(opts: Options) -> str:
    """The one place that reads which format the options ask for."""
    return "csv" if opts.csv else "json" if opts.json else "text"


def chosen(session: Session):
    """The strategy for this run's options, made for ``session``."""
    module, name = FORMATS[format_name(session.opts)]
    __import__(module)
    return getattr(sys.modules[module], name)(session)
