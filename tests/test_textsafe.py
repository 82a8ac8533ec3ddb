"""textsafe: every untrusted string becomes printable, unambiguous UTF-8 (docs/escaping.md)."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pynetstat.textsafe import json_text, ljust, safe, width

# Characters no output may hold: they move the cursor, change colours or reorder text.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def unescape(text: str) -> bytes:
    """The inverse of safe() on bytes, written from docs/escaping.md: proves it is injective."""
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        kind = text[i + 1]
        if kind in "\\ntr":
            out.append({"\\": "\\", "n": "\n", "t": "\t", "r": "\r"}[kind])
            i += 2
        elif kind == "x":
            n = int(text[i + 2:i + 4], 16)
            out.append(chr(n) if n < 0x80 else chr(0xDC00 + n))
            i += 4
        elif kind == "u":
            out.append(chr(int(text[i + 2:i + 6], 16)))
            i += 6
        elif kind == "U":
            out.append(chr(int(text[i + 2:i + 10], 16)))
            i += 10
        else:
            raise AssertionError(f"unknown escape at {i} in {text!r}")
    return "".join(out).encode("utf-8", "surrogateescape")


def assert_clean(text: str) -> None:
    assert text.isprintable(), text
    text.encode("utf-8")  # valid UTF-8: raises on any surrogate
    bad = [ch for ch in text if unicodedata.category(ch) in FORBIDDEN_CATEGORIES]
    assert not bad, (text, bad)


@pytest.mark.parametrize(("raw", "shown"), [
    ("sshd", "sshd"),
    (b"sshd", "sshd"),
    ("/usr/sbin/nginx: worker process", "/usr/sbin/nginx: worker process"),
    ("caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"),  # printable non-ASCII stays
    (b"\x1b[31mred", "\\x1b[31mred"),
    ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    ("\x00\x7f", "\\x00\\x7f"),
    (b"\xff\xfe", "\\xff\\xfe"),  # not UTF-8: the raw bytes, visibly
    (b"\xe6\x97", "\\xe6\\x97"),  # a truncated UTF-8 sequence
    ("\u0085\u009b", "\\u0085\\u009b"),  # C1 controls (NEL, CSI) are \u, never \x
    ("abc\u202edef", "abc\\u202edef"),  # RIGHT-TO-LEFT OVERRIDE
    ("\u2066\u2069\u200e\u200f\u061c", "\\u2066\\u2069\\u200e\\u200f\\u061c"),
    ("\u200b\u200c\u200d\u2060\ufeff", "\\u200b\\u200c\\u200d\\u2060\\ufeff"),
    ("\u2028\u2029", "\\u2028\\u2029"),  # line and paragraph separators
    ("\u00a0", "\\u00a0"),  # NO-BREAK SPACE looks like a space but is not one
    ("\U000e0001", "\\U000e0001"),  # LANGUAGE TAG (Cf, outside the BMP)
    ("C:\\x1b", "C:\\\\x1b"),  # a literal backslash is doubled, so it can't fake an escape
])
def test_safe_examples(raw, shown):
    assert safe(raw) == shown
    assert_clean(safe(raw))


def test_c1_and_invalid_byte_do_not_collide():
    # U+0080 is a real character (UTF-8 c2 80); b"\x80" alone is an invalid byte.
    assert safe("\u0080".encode()) != safe(b"\x80")


def test_ascii_fast_path_returns_the_same_object():
    s = "nginx"
    assert safe(s) is s


@given(st.binary(max_size=64))
def test_any_bytes_become_clean_text(raw):
    assert_clean(safe(raw))


@given(st.binary(max_size=64))
def test_escaping_is_injective_on_bytes(raw):
    assert unescape(safe(raw)) == raw


@given(st.text(max_size=64))
def test_any_text_becomes_clean_and_reversible(text):
    out = safe(text)
    assert_clean(out)
    assert unescape(out).decode("utf-8", "surrogateescape") == text


@given(st.text(st.characters(exclude_categories=()), max_size=32))
def test_any_str_even_with_lone_surrogates_is_clean(text):
    assert_clean(safe(text))
    json_text(text).encode("utf-8")


def test_ascii_work_does_not_import_unicodedata():
    import subprocess
    import sys

    code = ("import sys; from pynetstat.textsafe import safe, width, ljust; "
            "safe('abc\\x1b'); width('abc'); ljust('a', 3); "
            "print('unicodedata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@given(st.binary(max_size=64))
def test_json_text_is_always_encodable(raw):
    value = json_text(raw)
    doc = json.dumps({"name": value}, ensure_ascii=False)
    doc.encode("utf-8")
    assert "\n" not in doc  # one record per line holds for JSON Lines
    assert json.loads(doc)["name"] == value


def test_json_text_keeps_real_text_and_marks_bad_bytes():
    assert json_text("plain") == "plain"
    assert json_text("caf\u00e9\x1b") == "caf\u00e9\x1b"  # json.dumps escapes the ESC itself
    assert json_text(b"ab\xffc") == "ab\\xffc"
    assert json_text("\ud800") == "\\ud800"  # a lone surrogate that is not an escaped byte
    assert json.dumps(json_text(b"\x1b\xff")) == '"\\u001b\\\\xff"'


@pytest.mark.parametrize(("text", "cols"), [
    ("abc", 3), ("", 0), ("\u65e5\u672c", 4), ("\uff21", 2),  # fullwidth A
    ("e\u0301", 1), ("caf\u00e9", 4), ("\\u202e", 6),
])
def test_width(text, cols):
    assert width(text) == cols


def test_ljust_pads_by_columns():
    assert ljust("ab", 4) == "ab  "
    assert ljust("\u65e5", 4) == "\u65e5  "
    assert width(ljust("\u65e5\u672cx", 8)) == 8
    assert ljust("toolong", 3) == "toolong"


def test_fast_enough_for_200k_rows():
    import time

    names = [f"worker-{i}" for i in range(200_000)]
    t0 = time.perf_counter()
    for name in names:
        safe(name)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"{elapsed:.3f}s for 200k ASCII names"
