"""How a count the source does not give is printed, shared by the -s and -e views."""

from __future__ import annotations

NOT_AVAILABLE = "n/a"


def fmt(value: int | None) -> str:
    """``12 -> "12"``; ``None`` (not counted by Linux, or not given by this source) -> ``"n/a"``."""
    return NOT_AVAILABLE if value is None else str(value)
