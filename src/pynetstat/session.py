"""What lives across the displays of one run: the options, the environment, the netlink source,
the name caches; and the guard that keeps the cyclic garbage collector out of a display.

Nothing here knows which mode runs or which format is printed: modes, formats and views import
this module, never the other way round.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from pynetstat.env import Environment
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.sockets import SocketBatch
    from pynetstat.options import Options
    from pynetstat.resolve import Names

_MAX_NAMES = 65536  # names kept across the passes of an interval session before a cache starts over


class InterfaceNames:
    """ifindex -> name, asked of the kernel once per index (if_indextoname); the index itself
    when the interface is gone."""

    def __init__(self) -> None:
        self.cache: dict[int, str] = {}

    def __call__(self, index: int) -> str:
        name = self.cache.get(index)
        if name is None:
            from _socket import if_indextoname

            try:
                name = if_indextoname(index)
            except OSError:
                name = str(index)
            else:
                # Python decodes it with the locale's file system encoding: ASCII in the C
                # locale, where every byte past 0x7f would become an escape. The kernel's name is
                # bytes; decoded as UTF-8 here like every name (docs/escaping.md), any locale.
                if not name.isascii():
                    from os import fsencode

                    name = fsencode(name).decode("utf-8", "surrogateescape")
            self.cache[index] = name
        return name

    def within(self, netns: NetNamespace | None) -> InterfaceNames:
        """The names of the namespace ``netns`` (a ``model.netns.NetNamespace``) rows are in."""
        return self


class NamespaceInterfaceNames(InterfaceNames):
    """ifindex -> name in another network namespace (--netns): its link table, dumped once
    through its netlink source on first use (if_indextoname would answer for ours). Without
    netlink there (the /proc fallback), an index stays a number rather than take a wrong name."""

    def __init__(self, netlink: NetlinkSource) -> None:
        super().__init__()
        self.netlink = netlink
        self.loaded = False

    def __call__(self, index: int) -> str:
        if not self.loaded:
            self.loaded = True
            from pynetstat.linux.links import link_table

            links, why = link_table(self.netlink)
            if why is None:
                self.cache.update((i, name) for name, (i, _addresses) in links.items()
                                  if i is not None)
        name = self.cache.get(index)
        if name is None:
            name = self.cache[index] = str(index)
        return name


class EveryNamespaceInterfaceNames(InterfaceNames):
    """--all-netns: ``within(ns)`` gives the names of each namespace's rows, from its own link
    table (``NamespaceInterfaceNames``); our own namespace's are ours."""

    def __init__(self, netlinks: dict[int, NetlinkSource], own: int | None) -> None:
        super().__init__()
        self.netlinks = netlinks  # namespace inode -> its netlink source
        self.own = own
        self.each: dict[int, InterfaceNames] = {}

    def update(self, netlinks: dict[int, NetlinkSource]) -> None:
        """Interval mode: the namespaces of a new pass. Their link tables are read again when a
        row needs a name (an interface may have come or gone since)."""
        self.netlinks = netlinks
        self.each = {}

    def within(self, netns: NetNamespace | None) -> InterfaceNames:
        if netns is None or netns.inode == self.own or netns.inode not in self.netlinks:
            return self
        names = self.each.get(netns.inode)
        if names is None:
            names = self.each[netns.inode] = NamespaceInterfaceNames(self.netlinks[netns.inode])
        return names


def netlink_source(environ: Mapping[str, str]) -> Callable[[], NetlinkSource]:
    """The netlink source of a run: the kernel's, or the recording ``PYNETSTAT_NETLINK_REPLAY``
    names (tests, bug reports)."""
    replay = environ.get("PYNETSTAT_NETLINK_REPLAY")
    if replay:
        def replayed() -> NetlinkSource:
            from pynetstat.linux.netlink import ReplayNetlink

            return ReplayNetlink(replay)
        return replayed

    def live() -> NetlinkSource:
        from pynetstat.linux.netlink import LiveNetlink

        return LiveNetlink()
    return live


class Session:
    """What lives across displays: the netlink source, name caches."""

    def __init__(self, opts: Options, env: Environment):
        self.opts = opts
        self.env = env
        self.netlink: NetlinkSource = (env.netlink_factory or netlink_source(env.environ))()
        self.ifname: InterfaceNames = (InterfaceNames() if env.netns is None
                                       else NamespaceInterfaceNames(self.netlink))
        self._host: str | None = None
        self.names: Names | None = None
        if not opts.numeric:
            from pynetstat.resolve import names_from_environ

            self.names = names = names_from_environ(env.environ)
            names.fqdn = opts.fqdn

    def host(self) -> str:
        """This machine's name (uname's nodename), as the kernel has it: not escaped."""
        if self._host is None:
            import os

            self._host = os.uname().nodename
        return self._host

    def in_order(self, batches: Iterable[SocketBatch]) -> Iterator[SocketBatch] | Iterable[SocketBatch]:
        """Without -n, each batch once its foreign hosts have answered; with -n, as they come."""
        return batches if self.names is None else self.names.in_order(batches)

    def bound_caches(self) -> None:
        """Name caches grow with the addresses seen; a long session over churning peers starts
        them over rather than growing without end."""
        names = self.names
        if names is not None and len(names.hosts) > _MAX_NAMES:
            names.hosts.clear()
        if len(self.ifname.cache) > _MAX_NAMES:
            self.ifname.cache.clear()

    def say(self, note: str) -> None:
        self.env.stderr.write(f"pynetstat: {note}\n")

    def close(self) -> None:
        self.netlink.close()


class NoCycleCollection:
    """``with NoCycleCollection():`` -- the cyclic garbage collector is off inside the block.

    A display makes a few objects per socket and no reference cycles; the collector would walk
    them again and again as they pile up and free nothing (a quarter of -an's time at 200k
    sockets). Reference counting still frees everything; cycles, if any, wait for the next
    collection after the block."""

    def __enter__(self) -> None:
        import gc

        self.gc = gc
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.was_enabled:
            self.gc.enable()
