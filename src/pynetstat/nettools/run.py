"""What lives across the displays of one net-tools face run (``show.py`` drives them; the
collectors and layouts of this face take it). A module of its own so that they can name its type
without importing ``show``, which imports them."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.env import Environment
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.nettools.flags import NetToolsOptions
    from pynetstat.resolve import Names


class Run:
    """What lives across the displays of one run: options, environment, netlink, names."""

    def __init__(self, opts: NetToolsOptions, env: Environment):
        from pynetstat.linux.procfs import ProcFS
        from pynetstat.session import netlink_source

        self.opts = opts
        self.env = env
        self.proc = ProcFS(env.proc_root)
        self.netlink: NetlinkSource = (env.netlink_factory or netlink_source(env.environ))()
        self.names: Names | None = None
        if not (opts.numeric_hosts and opts.numeric_ports):
            from pynetstat.resolve import names_from_environ

            self.names = names_from_environ(env.environ)

    def close(self) -> None:
        self.netlink.close()
