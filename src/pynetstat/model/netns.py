"""Records for network namespaces: what ``--all-netns`` labels each row with and JSON's ``netns``.

A network namespace is named by its nsfs inode (``stat(/proc/PID/ns/net).st_ino``): every
process, bind mount and socket in it sees the same one. Slotted classes, not dataclasses (see
model/sockets.py for the import cost).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.model.process import Container

# What a label is, in the order ``NetNamespace.label`` prefers them.
HOST = "host"  # the namespace of PID 1 of the /proc we read
POD = "pod"  # a Kubernetes pod's name ("namespace/name"), from the runtime's files
CONTAINER = "container"  # a container's name, from the runtime's files
NETNS = "netns"  # a name under /run/netns (``ip netns``)
CONTAINER_ID = "container-id"  # the short (12 digit) container ID from a cgroup path
POD_ID = "pod-id"  # a pod UID from a cgroup path, when no container is named
INODE = "inode"  # nothing names it


class NetNamespace:
    """One network namespace found on the host.

    - ``inode``, ``dev``: its nsfs inode and device (the pair identifies it).
    - ``mounts``: bind mounts of it (``/run/netns/NAME``, ``/run/docker/netns/ID``, any nsfs
      mount in our mount table), sorted.
    - ``pids``: the processes whose /proc/PID/ns/net is it, sorted; empty when only a bind
      mount keeps it.
    - ``netns_name``: its ``ip netns`` name (a mount directly under /run/netns or
      /var/run/netns), or ``None``.
    - ``container``: the ``model.process.Container`` a cgroup of one of its processes names;
      ``container_name`` and ``pod_name`` what the runtime's files call it and its pod.
    - ``host``: it is the host's namespace (the one of PID 1 of the /proc read).
    """

    __slots__ = ("inode", "dev", "mounts", "pids", "netns_name", "container", "container_name",
                 "pod_name", "host")

    def __init__(self, inode: int, dev: int = 0, *, mounts: list[str] | None = None,
                 pids: list[int] | None = None, netns_name: str | None = None,
                 container: Container | None = None, container_name: str | None = None,
                 pod_name: str | None = None, host: bool = False):
        self.inode = inode
        self.dev = dev
        self.mounts = mounts if mounts is not None else []
        self.pids = pids if pids is not None else []
        self.netns_name = netns_name
        self.container = container
        self.container_name = container_name
        self.pod_name = pod_name
        self.host = host

    @property
    def path(self) -> str | None:
        """One path that opens it: a bind mount (it outlives processes), else the
        /proc/PID/ns/net of its lowest PID, else ``None``. Paths are relative to the host's
        root and /proc; ``linux.netns`` gives a /proc root to ``path_in``."""
        if self.mounts:
            return self.mounts[0]
        if self.pids:
            return f"/proc/{self.pids[0]}/ns/net"
        return None

    @property
    def label_kind(self) -> str:
        """Which of ``HOST``, ``POD``, ``CONTAINER``, ``NETNS``, ``CONTAINER_ID``, ``POD_ID``,
        ``INODE`` the label is. A pod before its containers: a pod's containers share the pod's
        namespace. A container's name before an ``ip netns`` name: Podman and CNI mount a
        container's namespace at /run/netns/netns-UUID or cni-UUID, which says less."""
        if self.host:
            return HOST
        if self.pod_name:
            return POD
        if self.container_name:
            return CONTAINER
        if self.netns_name:
            return NETNS
        if self.container is not None and self.container.id:
            return CONTAINER_ID
        if self.container is not None and self.container.pod:
            return POD_ID
        return INODE

    @property
    def label(self) -> str:
        """The short text of the namespace column: ``host``, a pod, a container name, an
        ``ip netns`` name, a 12-digit container ID, a pod UID, or the inode in decimal."""
        kind = self.label_kind
        if kind == HOST:
            return "host"
        if kind == POD:
            return self.pod_name  # type: ignore[return-value]
        if kind == CONTAINER:
            return self.container_name  # type: ignore[return-value]
        if kind == NETNS:
            return self.netns_name  # type: ignore[return-value]
        if kind == CONTAINER_ID:
            return self.container.id[:12]  # type: ignore[union-attr,index]
        if kind == POD_ID:
            return self.container.pod  # type: ignore[union-attr,return-value]
        return str(self.inode)

    def to_json(self) -> dict[str, object]:
        """The ``netns`` object of a JSON row: inode, label, name, container, pod."""
        c = self.container
        return {"inode": self.inode, "label": self.label, "name": self.netns_name,
                "container": None if c is None else {"id": c.id, "runtime": c.runtime,
                                                     "name": self.container_name},
                "pod": None if c is None or not (c.pod or self.pod_name) else
                {"uid": c.pod, "name": self.pod_name}}

    def __repr__(self) -> str:
        return (f"NetNamespace({self.inode}, label={self.label!r}, pids={self.pids!r}, "
                f"mounts={self.mounts!r})")


class Discovery:
    """Every network namespace one discovery found, and what it could not see.

    - ``namespaces``: the host's first (when known), then by inode.
    - ``host``: the host's namespace, or ``None`` when /proc/1/ns/net could not be read.
    - ``denied``: processes whose /proc/PID/ns/net could not be read (another user's process
      without CAP_SYS_PTRACE, hidepid): their namespaces are missing unless a mount shows them.
    - ``vanished``: processes that exited during the walk.
    - ``notes``: anything else that was skipped, one line each (an unparsable runtime file).
    """

    __slots__ = ("namespaces", "host", "denied", "vanished", "notes")

    def __init__(self, namespaces: list[NetNamespace], host: NetNamespace | None = None,
                 denied: int = 0, vanished: int = 0, notes: list[str] | None = None):
        self.namespaces = namespaces
        self.host = host
        self.denied = denied
        self.vanished = vanished
        self.notes = notes if notes is not None else []

    def by_inode(self, inode: int) -> NetNamespace | None:
        return next((ns for ns in self.namespaces if ns.inode == inode), None)
