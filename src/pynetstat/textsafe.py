"""One escaping helper for every untrusted string a renderer prints.

Process names, executable paths, argv, cgroup paths, unit names and host names come from other
programs and may hold terminal escapes, newlines, bidi overrides or bytes that are not UTF-8.
``safe()`` turns any of them into printable UTF-8 text in which each such character is shown as a
visible, unambiguous escape; docs/escaping.md is the reference for the exact rules.

Start-up cost matters: this module imports nothing, and ``unicodedata`` is imported only by
``width()`` and only for a string that is not ASCII.
"""

from __future__ import annotations

# Escapes with a short, familiar form; every other character to escape gets \xNN, \uNNNN or
# \UNNNNNNNN (see _escape).
_SHORT = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x5C: "\\\\"}


def _escape(cp: int) -> str:
    """The text shown for code point ``cp``: itself when it is safe to print, else its escape.

    ``\\xNN`` is used for exactly two kinds of input, which cannot collide: ASCII controls
    (``0x00-0x1f``, ``0x7f``) and the bytes ``0x80-0xff`` that were not valid UTF-8, which
    surrogateescape decoding carried as U+DC80-U+DCFF. C1 controls (U+0080-U+009F) are therefore
    written ``\\u0080``, never ``\\x80``.
    """
    short = _SHORT.get(cp)
    if short is not None:
        return short
    if 0xDC80 <= cp <= 0xDCFF:
        return f"\\x{cp - 0xDC00:02x}"
    ch = chr(cp)
    # str.isprintable() is False exactly for the Unicode categories Cc (C0, DEL, C1), Cf (format:
    # bidi controls U+202A-U+202E and U+2066-U+2069, U+200E/U+200F, U+061C, zero-width U+200B-
    # U+200D, U+2060, U+FEFF, ...), Cs (surrogates), Co (private use), Cn (unassigned), Zl, Zp and
    # Zs other than the ASCII space (U+00A0, U+3000, ...).
    if ch.isprintable():
        return ch
    if cp < 0x80:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


class _EscapeTable(dict[int, str]):
    """A ``str.translate`` table that computes each code point's escape once and remembers it.

    The memo is a pure cache of ``_escape`` (a function of the code point alone), so sharing it
    between calls changes no result; it is bounded by the number of distinct code points seen.
    """

    __slots__ = ()

    def __missing__(self, cp: int) -> str:
        text = _escape(cp)
        self[cp] = text
        return text


_TABLE = _EscapeTable()


def safe(value: str | bytes) -> str:
    """Return ``value`` as printable text with every unsafe character visibly escaped.

    Bytes are decoded as UTF-8 with invalid bytes kept (surrogateescape) and shown as ``\\xNN``;
    a ``str`` is taken to be surrogateescape-decoded already. The escaping is injective on bytes:
    two different byte strings never give the same text.

    >>> safe(b"evil\\x1b[31m\\n\\xff")
    'evil\\\\x1b[31m\\\\n\\\\xff'
    >>> safe("sshd")
    'sshd'
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    # Fast path, taken by nearly every real name: nothing to escape. isprintable() is False for
    # any control, format character or surrogate, so this one C-level test covers them all.
    if value.isprintable() and "\\" not in value:
        return value
    return value.translate(_TABLE)


def safe_token(value: str | bytes) -> str:
    """``safe()`` for a name that is printed as one cell or word: host names, interface names,
    systemd unit names. None of them holds a space when it is genuine (DNS and /etc/hosts names
    cannot, Linux refuses white space in interface names, systemd writes a space in a unit name
    as ``\\x20``), so a space here was put there to be read as a column break or as a fake
    row under -b; it is shown as ``\\x20``, which stays injective since ``safe()`` doubles ``\\``.

    >>> safe_token("evil.example 10.0.0.1:443")
    'evil.example\\\\x2010.0.0.1:443'
    """
    text = safe(value)
    return text.replace(" ", "\\x20") if " " in text else text


def json_text(value: str | bytes) -> str:
    """The JSON form of an untrusted string: the real text, made encodable as UTF-8.

    Controls stay as they are (``json.dumps`` writes them as ``\\u001b``, ``\\n``); only what no
    UTF-8 JSON string can carry is changed: each byte that was not valid UTF-8 becomes the
    four characters ``\\xNN`` (Python's ``backslashreplace`` convention) and any other lone
    surrogate ``\\udNNN``. See docs/escaping.md for why JSON differs from text.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(_escape(ord(ch)) if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    return value


# What ``json.dumps`` writes for a character that cannot appear raw in a JSON string.
_JSON_SHORT = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


class _CsvTable(dict[int, str]):
    """``str.translate`` table for ``csv_text``: a character ``str.isprintable()`` rejects
    becomes the escape ``json.dumps`` writes for it; every other character stays itself."""

    __slots__ = ()

    def __missing__(self, cp: int) -> str:
        if chr(cp).isprintable():
            text = chr(cp)
        elif cp in _JSON_SHORT:
            text = _JSON_SHORT[cp]
        elif cp <= 0xFFFF:
            text = f"\\u{cp:04x}"
        else:  # JSON writes a character beyond the BMP as its UTF-16 surrogate pair
            cp -= 0x10000
            text = f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"
        self[cp] = text
        return text


_CSV_TABLE = _CsvTable()


def csv_text(value: str | bytes) -> str:
    """The CSV form of an untrusted string: ``json_text``'s value (the real text; a byte that
    was not UTF-8 as the four characters ``\\xNN``), with every character ``str.isprintable()``
    rejects (controls, format and separator characters) written as ``json.dumps`` writes it
    (``\\n``, ``\\u001b``, ``\\u202e``). A cell never holds a raw control; backslashes and quotes
    stay as they are (the csv module quotes the cell). Not injective, like JSON: the two
    characters ``\\n`` and a newline give the same cell. docs/csv.md.

    >>> csv_text(b"a,b\\x1b[31m\\n\\xff")
    'a,b\\\\u001b[31m\\\\n\\\\xff'
    """
    text = json_text(value)
    if text.isprintable():
        return text
    return text.translate(_CSV_TABLE)


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide and fullwidth characters count 2,
    combining marks 0, everything else 1. Meant for the output of ``safe()`` (no controls)."""
    if text.isascii():
        return len(text)
    import unicodedata  # only now: about 1 ms we do not pay for ASCII-only listings

    eaw = unicodedata.east_asian_width
    category = unicodedata.category
    cols = 0
    for ch in text:
        if ch < "\u0300":
            cols += 1
        elif category(ch) in ("Mn", "Me"):  # combining marks draw over the previous column
            continue
        else:
            cols += 2 if eaw(ch) in ("W", "F") else 1
    return cols


def ljust(text: str, columns: int) -> str:
    """``text`` padded with spaces to ``columns`` terminal columns (never truncated)."""
    if text.isascii():
        return text.ljust(columns)
    return text + " " * (columns - width(text))


def escape_unencodable(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler for an output whose encoding cannot carry every character (ASCII in
    the C locale, ``PYTHONIOENCODING=latin-1``): each such character is written as its escape,
    ``\\uNNNN`` or ``\\UNNNNNNNN`` (``\\xNN`` for a byte that was not UTF-8), as docs/escaping.md
    says. Text that reaches a stream has been through ``safe()``, whose backslashes are doubled,
    so the escape cannot be mistaken for a name's own text. Registered by ``env.py``.

    >>> import codecs; codecs.register_error("pynetstat-escape", escape_unencodable)
    >>> "caf\\u00e9 \\u65e5".encode("ascii", "pynetstat-escape")
    b'caf\\\\u00e9 \\\\u65e5'
    """
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for ch in error.object[error.start:error.end]:
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:
            out.append(f"\\x{cp - 0xDC00:02x}")
        elif cp <= 0xFFFF:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    return "".join(out), error.end
