"""Records of the audit (issue 16): facts read from the kernel, each with where it came from, and
the findings the judges (``pynetstat.audit.signs``) draw from them.

A fact is never a guess: it is a value and the file or kernel answer that gave it
(``/proc/4242/exe``, ``sock_diag tcp``, ``/sys/class/net/eth0/flags``), so a finding can show its
evidence line by line. Every string here that came from another process is untrusted; renderers
pass it through ``pynetstat.textsafe``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pynetstat.model.process import ProcessInfo
    from pynetstat.model.sockets import InetSocket  # sockets are the collectors' own records

ALERT = "alert"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ALERT, WARNING, INFO)  # most serious first: the order findings are shown in


class Fact:
    """One thing known, and from where: ``Fact("executable deleted", True, "/proc/42/exe")``.

    ``value`` is a bool, int, str, list or dict of those (it goes into JSON as it is);
    ``unreadable`` is ``None``, or why the value could not be read (then ``value`` is ``None``).
    """

    __slots__ = ("what", "value", "source", "unreadable")

    def __init__(self, what: str, value: Any, source: str, unreadable: str | None = None):
        self.what = what
        self.value = value
        self.source = source
        self.unreadable = unreadable

    def __repr__(self) -> str:
        why = f", unreadable={self.unreadable!r}" if self.unreadable else ""
        return f"Fact({self.what!r}, {self.value!r}, {self.source!r}{why})"


class ProcessFacts:
    """A process that holds at least one network socket, and what the signs need to know of it.

    ``process`` is the ``ProcessInfo`` (name, exe, uid, ancestry...) read with -b -v's reader;
    ``facts`` maps a fact's key (see ``linux/evidence.py``, ``FACT_KEYS``) to a ``Fact``.
    """

    __slots__ = ("pid", "process", "sockets", "facts")

    def __init__(self, pid: int, process: ProcessInfo | None):
        self.pid = pid
        self.process = process
        self.sockets: list[InetSocket] = []
        self.facts: dict[str, Fact] = {}

    def fact(self, key: str) -> Any:
        """The value of a fact, or ``None`` when it is absent or was unreadable."""
        found = self.facts.get(key)
        return None if found is None else found.value

    def __repr__(self) -> str:
        return f"ProcessFacts({self.pid}, {self.process!r}, facts={sorted(self.facts)})"


class Evidence:
    """Everything the judges look at, for one audit.

    - ``processes``: ``pid -> ProcessFacts`` for every process holding a TCP, UDP, RAW or
      packet socket;
    - ``unowned``: sockets with an inode no visible process holds, seen twice (not a race);
    - ``visibility``: why an unowned socket may be someone we cannot see, or ``None`` when every
      process's fds were read (``"permission denied (3 processes)"``, ``"hidepid=invisible"``,
      ``"PID namespace pid:[4026532201] is not the initial one"``), as a ``Fact``;
    - ``host``: host-wide facts by key (``ld_so_preload``, ``uid_min``);
    - ``interfaces``: ``[Fact]`` of interfaces whose flags say promiscuous;
    - ``disagreements``: ``[(InetSocket, seen_in, missing_from)]``: a socket one kernel view
      lists and the other does not, in both of two readings;
    - ``packet_sockets``, ``raw_sockets``: ``[(Fact, pids)]``: each AF_PACKET or RAW socket as a
      fact (``linux/capture.py`` names its fields) and the PIDs holding it (``()``: none seen);
    - ``notes``: what could not be checked, and why (one line each).
    """

    __slots__ = ("processes", "unowned", "visibility", "host", "interfaces", "disagreements",
                 "packet_sockets", "raw_sockets", "notes")

    def __init__(self) -> None:
        self.processes: dict[int, ProcessFacts] = {}
        self.unowned: list[InetSocket] = []
        self.visibility: Fact | None = None
        self.host: dict[str, Fact] = {}
        self.interfaces: list[Fact] = []
        self.disagreements: list[tuple[InetSocket, str, str]] = []
        self.packet_sockets: list[tuple[Fact, tuple[int, ...]]] = []
        self.raw_sockets: list[tuple[Fact, tuple[int, ...]]] = []
        self.notes: list[str] = []


class Finding:
    """One sign found: ``severity`` (ALERT, WARNING, INFO), ``sign`` (its name in the sign table),
    ``why`` (one sentence: why it matters), ``process`` (the ``ProcessFacts`` concerned, or
    ``None`` for a host-wide finding), ``sockets`` (``[InetSocket]``) and ``evidence`` (``[Fact]``:
    each fact the judge relied on, with its source)."""

    __slots__ = ("severity", "sign", "why", "process", "sockets", "evidence")

    def __init__(self, severity: str, sign: str, why: str, process: ProcessFacts | None = None,
                 sockets: list[InetSocket] | None = None, evidence: list[Fact] | None = None):
        self.severity = severity
        self.sign = sign
        self.why = why
        self.process = process
        self.sockets = sockets or []
        self.evidence = evidence or []

    def __repr__(self) -> str:
        pid = self.process.pid if self.process is not None else None
        return f"Finding({self.severity}, {self.sign}, pid={pid})"
