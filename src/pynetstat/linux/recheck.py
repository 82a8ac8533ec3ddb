"""Which of the sockets no owner was found for are still there: the kernel is asked again.

A socket in the dump that the fd walk found no holder for is either held where we may not look
(another user's process, a process that refuses even root, a hidden /proc) or was closed
between the dump and the walk. Which one is decided by the kernel, not guessed: after the pass,
the kinds that had such sockets are dumped again, and a socket whose inode the kernel no longer
lists has closed (an orphaned TCP socket, say in FIN_WAIT1 after its last close, is listed with
inode 0: closed too). When they are few, their ends go into the request as a bytecode program
(``bytecode.endpoints_piece``, as an owner filter narrows its dump), so the kernel sends only
them; past ``MAX_ENDS`` of one kind, that kind's whole table is dumped again.
"""

from __future__ import annotations

from pynetstat.linux.owner_filter import MAX_ENDS
from pynetstat.linux.sockets import SourceLog, iter_batches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pynetstat.kinds import SocketKind
    from pynetstat.linux.netlink import NetlinkSource
    from pynetstat.linux.procfs import ProcFS
    from pynetstat.model.sockets import SocketBatch

# One socket no owner was found for: (inode, local address, local port, foreign address, port)
Unowned = tuple[int, str, int, str, int]
_UNSPECIFIED = ("0.0.0.0", "::")


def unowned(batch: SocketBatch, pids: tuple[int | None, ...]) -> list[Unowned]:
    """The sockets of a batch with an inode and no owner (``pids[i]`` None)."""
    inode, local, lport = batch.inode, batch.local_address, batch.local_port
    remote, rport = batch.remote_address, batch.remote_port
    return [(inode[i], local[i], lport[i], remote[i], rport[i])
            for i, pid in enumerate(pids) if pid is None and inode[i]]


def closed(listed: list[tuple[SocketKind, int]], sockets: dict[tuple[str, int], list[Unowned]],
           netlink: NetlinkSource | None, proc: ProcFS) -> set[int]:
    """The inodes of ``sockets`` (by ``(protocol, family)``) that the kernel no longer lists,
    asking with the same kinds and state masks as the pass (``listed``) and the same sources."""
    gone: set[int] = set()
    for kind, states in listed:
        mine = sockets.get((kind.protocol, kind.family))
        if not mine:
            continue
        ends = None
        if len(mine) <= MAX_ENDS:
            ends = {(kind.protocol, kind.family): [
                (local, lport, None if rport == 0 and remote in _UNSPECIFIED else remote, rport)
                for _, local, lport, remote, rport in mine]}
        now: set[int] = set()
        for batch in iter_batches([(kind, states)], netlink, proc, SourceLog(), None, ends):
            now.update(batch.inode)
        gone.update(inode for inode, *_ in mine if inode not in now)
    return gone
