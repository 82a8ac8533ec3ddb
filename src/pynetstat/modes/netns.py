"""``--netns TARGET``: every mode's view from inside one network namespace (issue 15).

The target is found (``linux.netns.find_target``) and reached (``linux.nsenter.reach``: a netlink
socket made inside it, else the /proc/PID/net files of a process in it) before anything is
printed; then the run goes on with an environment whose netlink source and net/ files are the
namespace's. Owners, names and cgroups still come from the host's /proc, so PIDs are the host's.
"""

from __future__ import annotations

from pynetstat.errors import InputError, PynetstatError
from pynetstat.textsafe import safe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.model.netns import NetNamespace


def find(target: str, proc_root: str) -> NetNamespace:
    """The one namespace ``target`` names; ``InputError`` (exit 2) when none or several do."""
    from pynetstat.linux.netns import discover, find_target
    from pynetstat.linux.procfs import ProcFS

    hits = find_target(discover(ProcFS(proc_root)), target)
    if not hits and target.isdigit():
        import os

        try:
            os.stat(f"{proc_root}/{target}/ns/net")
        except OSError as err:
            raise InputError(f"--netns {target}: cannot read {proc_root}/{target}/ns/net: "
                             f"{(err.strerror or str(err)).lower()}") from None
    if not hits:
        raise InputError(f"--netns {safe(target)}: no such network namespace (expected an ip "
                         "netns name, a PID, a path to a namespace file, or a container or pod "
                         "name or ID)")
    if target.startswith(("/", ".")) and not _nsfs(hits[0].dev, proc_root):
        raise InputError(f"--netns {safe(target)}: not a network namespace file")
    if len(hits) > 1:
        raise InputError(f"--netns {safe(target)} is ambiguous: it names "
                         + ", ".join(sorted(safe(ns.label) for ns in hits)))
    return hits[0]


def _nsfs(dev: int, proc_root: str) -> bool:
    """Is ``dev`` the device of namespace files (nsfs: one device for all of them)?"""
    import os

    try:
        return os.stat(f"{proc_root}/thread-self/ns/net").st_dev == dev
    except OSError:
        return True  # cannot tell: entering it will


def entered(target: str, env: Environment) -> Environment:
    """``env`` as seen from inside the namespace ``target`` names; a stderr line says when its
    sockets come from /proc/PID/net instead of netlink, and why. A namespace that can be read
    neither way ends the run (exit 1)."""
    from pynetstat.linux.nsenter import (
        INVALID,
        Unreachable,
        net_reader,
        proc_net_root,
        reach,
    )

    ns = find(target, env.proc_root)
    access = reach(ns, env.proc_root)
    label = safe(ns.label)
    if access.source is None and access.why == INVALID:
        raise InputError(f"--netns {safe(target)}: not a network namespace file")
    if access.source is None:
        raise PynetstatError(f"network namespace {label} cannot be read: {access.why}, and no "
                             "process in it has a readable /proc/PID/net")
    if access.source == "proc":
        env.stderr.write(f"pynetstat: network namespace {label}: read from "
                         f"{access.proc_root}/net instead of netlink ({access.why})\n")
        return env.replaced(netlink_factory=lambda: Unreachable(access.why or ""),
                            net_root=access.proc_root, netns=ns)
    root = proc_net_root(ns, env.proc_root)
    return env.replaced(netlink_factory=lambda: access.netlink, net_root=root, netns=ns,
                        net_reader=None if root is not None or ns.path is None
                        else net_reader(ns, ns.mounts[0] if ns.mounts else ns.path,
                                        env.proc_root))
