"""A real Podman container, named by its container name (issue 15), where Podman can run.

The image is imported from a root filesystem tarball made here (``/bin/sleep`` and the libraries
``ldd`` names), so no registry is needed. Podman 4.3 with crun cannot start a container on a
hybrid cgroup v1/v2 host, so runc is used when installed. The container gets no network
(``--network none``): its own namespace with a loopback; its listener is made from this process
by entering that namespace.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile

import pytest

from pynetstat.linux.netlink import DumpStats
from pynetstat.linux.netns import discover
from pynetstat.linux.nsenter import call_in, reach
from pynetstat.linux.sockdiag import build_request, decode_dump
from pynetstat.model import netns as labels

PODMAN = shutil.which("podman")
RUNC = shutil.which("runc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not PODMAN or not RUNC,
                                reason="needs root, podman and runc")


def _podman(*args: str, check: bool = True) -> str:
    return subprocess.run([PODMAN, "--runtime", RUNC, *args], capture_output=True, text=True,
                          timeout=120, check=check).stdout.strip()


def _rootfs(tar_path: str) -> None:
    files = ["/bin/sleep"]
    libs = subprocess.run(["ldd", "/bin/sleep"], capture_output=True, text=True).stdout
    files += [w for w in libs.split() if w.startswith("/")]
    with tarfile.open(tar_path, "w") as tar:
        for path in files:
            tar.add(os.path.realpath(path), arcname=path.lstrip("/"))


@pytest.fixture
def container(tmp_path):
    tag = f"localhost/pyns-test-{os.getpid()}"
    name = f"pyns-web-{os.getpid()}"
    _rootfs(str(tmp_path / "rootfs.tar"))
    _podman("import", str(tmp_path / "rootfs.tar"), tag)
    try:
        # Podman's default RLIMIT_NOFILE may exceed the hard limit here; ask for what we have.
        started = subprocess.run(
            [PODMAN, "--runtime", RUNC, "run", "-d", "--name", name, "--network", "none",
             "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", tag,
             "/bin/sleep", "600"], capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            pytest.skip(f"podman cannot run a container here: {started.stderr.strip()[-200:]}")
        pid = int(_podman("inspect", "-f", "{{.State.Pid}}", name))
        yield name, pid
    finally:
        _podman("rm", "-f", name, check=False)
        _podman("rmi", "-f", tag, check=False)


def test_a_podman_container_is_labelled_by_its_name(container):
    name, pid = container
    path = f"/proc/{pid}/ns/net"
    inode = os.stat(path).st_ino
    listener = call_in(path, lambda: socket.create_server(("127.0.0.1", 0)))
    try:
        ns = discover().by_inode(inode)
        assert ns is not None and pid in ns.pids
        assert (ns.label_kind, ns.label) == (labels.CONTAINER, name)
        assert ns.container.runtime == "podman" and ns.to_json()["container"]["name"] == name
        access = reach(ns)
        assert access.source == "netlink"
        port = listener.getsockname()[1]
        rows = [(s.local_address, s.local_port) for s in decode_dump(
            access.netlink.dump(build_request(4, "tcp")), "tcp", 4, DumpStats())]
        access.netlink.close()
        assert rows == [("127.0.0.1", port)]
    finally:
        listener.close()
