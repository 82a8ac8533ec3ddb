"""/proc access through one object whose root is a parameter, so a recorded tree replays as /proc.

Parsers here are pure: they take text and yield records. The reader only opens files.
"""

from __future__ import annotations

import os


class ProcFS:
    """Reads files below ``root`` (``/proc`` by default). Errors are ``OSError`` as the OS gives them."""

    __slots__ = ("root",)

    def __init__(self, root: str = "/proc"):
        self.root = root.rstrip("/") or "/"

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def read_bytes(self, rel: str) -> bytes:
        with open(f"{self.root}/{rel}", "rb") as f:
            return f.read()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("ascii", "replace")

    def listdir(self, rel: str = "") -> list[str]:
        return os.listdir(f"{self.root}/{rel}" if rel else self.root)

    def readlink(self, rel: str) -> str:
        return os.readlink(f"{self.root}/{rel}")
