"""The one walk over /proc/*/fd: which socket inodes each process holds, and what could not be read.

Both owner lookups use it: the one-shot scan (``owners.scan_owners``) and the interval cache
(``owner_cache.OwnerCache``). Each fd table is opened once and every link read relative to that
directory descriptor (``readlinkat``), so the kernel resolves a short name rather than a whole
path per fd; the links of one table are read by one comprehension, with no Python call per fd.

What the walk cannot read is counted in a ``ScanReport`` by one function, ``missed``, so that the
two lookups cannot disagree on what a failure means.
"""

from __future__ import annotations

import os

from pynetstat.linux.procfs import read_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pynetstat.model.sockets import ScanReport

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def missed(report: ScanReport, err: OSError, fd: bool = False) -> bool:
    """Count one read the walk could not make: of a process's table (``fd`` False) or of one of
    its links (``fd`` True). True when the rest of that process's table is lost with it.

    * EACCES/EPERM: another user's process (as non-root), /proc mounted hidepid, or a table that
      may be listed but whose links may not be followed (the ptrace access check, no
      CAP_SYS_PTRACE). It fails alike for every fd, so a process counts once, as denied, and
      not as read. A table refused under a hidepid mount is hidden by it, not denied.
    * ENOENT/ESRCH on a table: the process exited since /proc was listed. ENOENT on a link: the
      fd was closed between the listing and the read. Both are ``vanished``.
    * Anything else on one link: ``fds_unreadable``; the table's other links are still read.
    """
    if isinstance(err, PermissionError):
        if fd:
            report.processes -= 1
        elif report.hidepid:
            # /proc is mounted hidepid (its mount options say so, list_pids): with hidepid=1
            # (noaccess) other users' processes are listed but may not be entered, and that is
            # the mount's doing, said as for hidepid=2, where they are not even listed.
            return True
        report.denied += 1
        return True
    if fd and not isinstance(err, FileNotFoundError):
        report.fds_unreadable += 1
        return False
    report.vanished += 1
    return not fd


def list_pids(proc_root: str, report: ScanReport) -> list[int] | None:
    """The PIDs ``proc_root`` lists (None when it cannot be listed, counted as denied), and on
    ``report`` whether that /proc hides other users' processes."""
    try:
        entries = os.listdir(proc_root)
    except OSError:
        report.denied += 1
        return None
    if os.geteuid() != 0:  # hidepid hides nothing from root
        report.hidepid = hidepid(proc_root)
    return [int(name) for name in entries if name.isdigit()]


def fd_tables(proc_root: str, pids: Iterable[int], report: ScanReport,
              pid_dir: bool = False) -> Iterator[tuple[int, int | None, int, list[str]]]:
    """``(pid, pid dir fd, fd dir fd, fd names)`` for every process whose fd table could be
    listed, in the order given; the rest is counted by ``missed``. Both descriptors are closed
    when the consumer moves on (or stops).

    With ``pid_dir``, the table is opened through a descriptor of ``/proc/PID``: that directory
    stays bound to the process it was opened for, so what is read below it (``stat``, say)
    belongs to the same process as the table.
    """
    own = _own_pid(proc_root)
    for pid in pids:
        pdir = None
        try:
            if pid_dir:
                pdir = os.open(f"{proc_root}/{pid}", _O_DIR)
                fdir = os.open("fd", _O_DIR, dir_fd=pdir)
            else:
                fdir = os.open(f"{proc_root}/{pid}/fd", _O_DIR)
        except OSError as e:
            missed(report, e)
            if pdir is not None:
                os.close(pdir)
            continue
        try:
            try:
                fds = os.listdir(fdir)
            except OSError as e:
                missed(report, e)
                continue
            report.processes += 1
            if pid == own:
                # Listing a directory opens a descriptor of it (os.listdir dups ``fdir``): our
                # own table lists it, and it is closed by now. It is the scan's own, not an fd
                # that vanished (one fcntl per fd of ours, which holds few).
                fds = [fd for fd in fds if _is_open(int(fd))]
            yield pid, pdir, fdir, fds
        finally:
            os.close(fdir)
            if pdir is not None:
                os.close(pdir)


def read_links(fdir: int, fds: list[str], report: ScanReport | None = None) -> list[str]:
    """The link behind each fd of one table, in order, ``""`` for one that could not be read
    (counted in ``report``, if given); after a denied link the rest are not read. One
    comprehension, no Python call per fd, unless an fd fails."""
    readlink = os.readlink
    try:
        return [readlink(fd, dir_fd=fdir) for fd in fds]
    except OSError:
        return _links_one_by_one(fdir, fds, report)


def read_again(proc_root: str, pid: int, fds: list[str]) -> list[str]:
    """The links behind some fds of one process now, in order (``""`` for one that cannot be
    read, every one when the table cannot be opened): a cheap check of what a walk read before,
    one ``readlinkat`` per fd, no listing. Nothing is counted: this is not a walk."""
    try:
        fdir = os.open(f"{proc_root}/{pid}/fd", _O_DIR)
    except OSError:
        return [""] * len(fds)
    try:
        links = read_links(fdir, fds)
    finally:
        os.close(fdir)
    return links + [""] * (len(fds) - len(links))


def socket_inodes(fdir: int, fds: list[str], report: ScanReport) -> list[int]:
    """The socket inodes behind the fds of one table (a process may hold one socket on several
    fds, and 100,000 fds: comprehensions, no call per fd)."""
    sockets = [link[8:-1] for link in read_links(fdir, fds, report) if link.startswith("socket:[")]
    try:
        return list(map(int, sockets))
    except ValueError:  # not the kernel's "socket:[N]" (a /proc tree that is not the kernel's)
        inodes = [int(text) for text in sockets if text.isdigit()]
        report.fds_unreadable += len(sockets) - len(inodes)
        return inodes


def socket_links(fdir: int, fds: list[str], report: ScanReport) -> dict[str, str]:
    """``{fd: "socket:[N]"}``: the fds of one table that hold sockets, with their links (what a
    later check of the same fd must read again, ``read_links``)."""
    links = read_links(fdir, fds, report)
    return {fd: link for fd, link in zip(fds, links) if link.startswith("socket:[")}


def _own_pid(proc_root: str) -> int | None:
    """Our PID as the proc at ``proc_root`` numbers it (its ``self`` link); None for a tree
    that is not a live proc."""
    try:
        link = os.readlink(f"{proc_root}/self")
    except OSError:
        return None
    return int(link) if link.isdigit() else None


def _is_open(fd: int) -> bool:
    try:
        os.get_inheritable(fd)  # fcntl(F_GETFD): EBADF once closed
    except OSError:
        return False
    return True


def socket_inode(link: str) -> int | None:
    """``"socket:[1065]" -> 1065``; None for any other link."""
    if link.startswith("socket:[") and link[8:-1].isdigit():
        return int(link[8:-1])
    return None


def _links_one_by_one(fdir: int, fds: list[str], report: ScanReport | None) -> list[str]:
    """The slow path, when an fd closed (or could not be read) during the fast one."""
    links = []
    for fd in fds:
        try:
            links.append(os.readlink(fd, dir_fd=fdir))
        except OSError as e:
            if report is not None and missed(report, e, fd=True):
                return links
            links.append("")
    return links


def hidepid(root: str) -> str | None:
    """``"hidepid=invisible"`` when the proc mounted at ``root`` hides other users' processes
    (proc(5): hidepid=1/noaccess, 2/invisible, 4/ptraceable), else None.

    Decided from the mount's options in our own mountinfo
    (``id parent dev root MOUNTPOINT opts ... - proc proc rw,hidepid=invisible``), not from an
    error. When several procs are mounted on one point, the last line is the one on top (a
    mount is listed after its parent); the mount point is written with octal escapes
    (``\\040`` for a space, fs/proc_namespace.c ``mangle``).
    """
    try:
        text = read_file(f"{root}/self/mountinfo").decode("utf-8", "surrogateescape")
    except OSError:
        return None
    where = os.path.realpath(root)
    found: str | None = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or _unescape(fields[4]) != where:
            continue
        found = None  # a mount on top of another decides alone, whatever it is
        if " - proc " not in line:
            continue
        for option in line.rpartition(" - ")[2].split()[-1].split(","):
            if option.startswith("hidepid=") and option not in ("hidepid=0", "hidepid=off"):
                found = option
    return found


def _unescape(field: str) -> str:
    """``"/tmp/my\\040proc" -> "/tmp/my proc"`` (mountinfo's octal escapes of space, tab,
    newline and backslash)."""
    if "\\" not in field:
        return field
    import re  # only for such a mount point: re is not imported on the way to a listing

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
