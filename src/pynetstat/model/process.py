"""Records for the process behind a socket: what -b and -v show and --json carries.

Slotted classes, not dataclasses (see model/sockets.py for the import cost). Every string here
came from another process and is untrusted: names and paths are decoded with surrogateescape,
so undecodable bytes survive, and renderers pass them through ``pynetstat.textsafe``.
"""

from __future__ import annotations

# Why a ProcessInfo holds no details (its ``unreadable`` field).
PERMISSION_DENIED = "permission denied"
VANISHED = "vanished"


class Container:
    """The container a process runs in, as its cgroup path names it.

    ``runtime`` is one of ``"docker"``, ``"podman"``, ``"containerd"``, ``"cri-o"``, ``"lxc"``,
    or ``"kubernetes"`` when a pod's cgroup does not say which runtime created the container.
    ``id`` is the runtime's container id (usually 64 hex digits; ``None`` for a process in a pod's
    cgroup but in no container of it); ``pod`` is the Kubernetes pod UID with dashes, or ``None``.
    """

    __slots__ = ("id", "runtime", "pod")

    def __init__(self, id: str | None, runtime: str, pod: str | None = None):
        self.id = id
        self.runtime = runtime
        self.pod = pod

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Container):
            return NotImplemented
        return (self.id, self.runtime, self.pod) == (other.id, other.runtime, other.pod)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Container({self.id!r}, {self.runtime!r}, pod={self.pod!r})"


class ProcessInfo:
    """One process, read from /proc/PID at one moment.

    - ``name``: the kernel's short name (comm, at most 15 bytes; the process can change it).
    - ``exe``: the target of /proc/PID/exe without the kernel's `` (deleted)`` suffix, or ``None``
      (kernel thread, zombie, or not allowed to read it); ``exe_deleted`` says the file the
      process runs was removed or replaced after it started.
    - ``cmdline``: argv as a list (``[]`` for kernel threads and zombies, ``None`` if unreadable).
    - ``start_time``: field 22 of /proc/PID/stat, in clock ticks after boot; with ``pid`` it names
      the process for good, since a reused PID gets a later start time.
    - ``cgroup``: the most telling cgroup path (v2 if it says anything, else the systemd or first
      non-root v1 hierarchy); ``unit``: the innermost systemd service or scope in it, or ``None``;
      ``container``: a ``Container`` or ``None``.
    - ``ancestry``: ``[(pid, name), ...]`` from the parent up to PID 1 or the edge of our PID
      namespace, or ``None`` when it was not asked for.
    - ``unreadable``: ``None``, or why the executable behind the process is unknown:
      ``PERMISSION_DENIED`` (another user's process as non-root, hidepid, no CAP_SYS_PTRACE),
      ``VANISHED`` (it exited while we read it), or the OS's text for any other error. Fields
      read before the failure are kept (a denied /proc/PID/exe still leaves the world-readable
      stat, cmdline and cgroup); anything not read is ``None``.
    """

    __slots__ = ("pid", "name", "state", "ppid", "start_time", "uid", "exe", "exe_deleted",
                 "cmdline", "cgroup", "unit", "container", "ancestry", "unreadable")

    def __init__(self, pid: int, name: str | None = None, *, state: str | None = None,
                 ppid: int | None = None, start_time: int | None = None, uid: int | None = None,
                 exe: str | None = None, exe_deleted: bool = False,
                 cmdline: list[str] | None = None, cgroup: str | None = None,
                 unit: str | None = None, container: Container | None = None,
                 ancestry: list[tuple[int, str | None]] | None = None,
                 unreadable: str | None = None):
        self.pid = pid
        self.name = name
        self.state = state
        self.ppid = ppid
        self.start_time = start_time
        self.uid = uid
        self.exe = exe
        self.exe_deleted = exe_deleted
        self.cmdline = cmdline
        self.cgroup = cgroup
        self.unit = unit
        self.container = container
        self.ancestry = ancestry
        self.unreadable = unreadable

    @classmethod
    def unread(cls, pid: int, reason: str) -> ProcessInfo:
        """A process we know only by PID, and why (``PERMISSION_DENIED`` or ``VANISHED``)."""
        return cls(pid, unreadable=reason)

    @property
    def key(self) -> tuple[int, int | None]:
        """``(pid, start_time)``: stays unique when the kernel hands the PID to a new process."""
        return (self.pid, self.start_time)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProcessInfo):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self.unreadable:
            return f"ProcessInfo({self.pid}, unreadable={self.unreadable!r})"
        return (f"ProcessInfo({self.pid}, {self.name!r}, exe={self.exe!r}"
                f"{' (deleted)' if self.exe_deleted else ''}, unit={self.unit!r}, "
                f"container={self.container!r})")
