"""Run a function in a forked child that is less than root: another uid, no CAP_SYS_PTRACE, a
private mount namespace with /proc mounted hidepid, bind-mounted /etc files.

The child does not exec: the interpreter of this checkout's venv lives under /root (mode 0700
here), which uid 65534 could not even start. So everything the child will run is imported
first, by ``preload()``, and the child calls ``cli.main`` in-process; its result comes back
pickled through a pipe. Only the child changes; the test process keeps its privileges.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import pickle
import pkgutil
import select
import signal
import time
import traceback

NOBODY = 65534
CAP_SYS_PTRACE = 19
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def drop_capability(cap: int) -> None:
    """Remove ``cap`` from this process's effective and permitted sets (capset(2))."""
    head = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(head), data), "capget")
    word, bit = divmod(cap, 32)
    data[word].effective &= ~(1 << bit)
    data[word].permitted &= ~(1 << bit)
    data[word].inheritable &= ~(1 << bit)
    _check(_libc.capset(ctypes.byref(head), data), "capset")


def has_capability(cap: int) -> bool:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> cap & 1)
    return False


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    def enc(s):
        return None if s is None else os.fsencode(s)

    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def private_mounts() -> None:
    """A mount namespace of our own, with nothing propagating back to the host."""
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def become(uid: int, gid: int | None = None) -> None:
    os.setgroups([])
    os.setgid(uid if gid is None else gid)
    os.setuid(uid)


def can_sandbox() -> str | None:
    """Why the machine cannot run these children, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (to switch uid, drop capabilities, make mount namespaces)"
    return None


def preload() -> None:
    """Import every pynetstat module and what they import lazily, before a child drops its uid."""
    import pynetstat

    for mod in pkgutil.walk_packages(pynetstat.__path__, "pynetstat."):
        if not mod.name.endswith("__main__"):  # importing it runs pynetstat
            importlib.import_module(mod.name)
    for name in ("json", "socket", "threading", "unicodedata", "textwrap", "_queue", "_thread",
                 "errno", "encodings.idna", "encodings.ascii", "encodings.latin_1"):
        importlib.import_module(name)


def in_child(fn, *, setup=None, timeout: float = 60.0):
    """``fn()`` in a forked child after ``setup()`` (which may drop privileges); return its
    value. An exception in the child is raised here as AssertionError with the child's
    traceback; a child that does not finish in ``timeout`` seconds is killed."""
    preload()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        os.close(r)
        try:
            if setup is not None:
                setup()
            payload = pickle.dumps(("ok", fn()))
        except BaseException:
            payload = pickle.dumps(("error", traceback.format_exc()))
        try:
            with os.fdopen(w, "wb") as f:
                f.write(payload)
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"child did not finish within {timeout} s")
            data = os.read(r, 1 << 16)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    if not chunks:
        raise AssertionError("child died without a result")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "error":
        raise AssertionError("in the child:\n" + value)
    return value
