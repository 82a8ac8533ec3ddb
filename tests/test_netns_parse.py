"""Network namespaces without a kernel: the runtime files' parsers over recorded and written
layouts (tests/fixtures/runtimes/README.md says which is which), the mount table parser, the
label rules, and discovery over a /proc tree built here."""

from __future__ import annotations

import doctest
import os
import shutil

import pytest

from conftest import FIXTURES
from pynetstat.errors import ParseError
from pynetstat.linux import netns as netns_mod
from pynetstat.linux import runtimes
from pynetstat.linux.netns import discover, find_target, parse_mountinfo_netns
from pynetstat.linux.procfs import ProcFS
from pynetstat.linux.runtimes import Names, RuntimeFiles
from pynetstat.model import netns as labels
from pynetstat.model.netns import NetNamespace
from pynetstat.model.process import Container

RUNTIMES = os.path.join(FIXTURES, "runtimes")
PODMAN_ID = "a40cd4d91c01e50523917bc9a8e28c291e31c2fe0e4bc409f128fa60f6adc32a"
DOCKER_ID = "3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
CRIO_ID = "7b2e4d6f8a0c1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f"
CONTAINERD_ID = "c0ffee00aa11bb22cc33dd44ee55ff66c0ffee00aa11bb22cc33dd44ee55ff66"
CRIO_POD = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
CONTAINERD_POD = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


@pytest.mark.parametrize("module", [runtimes, netns_mod])
def test_worked_examples(module):
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("root, container, names", [
    ("podman-4.3.1-debian12", Container(PODMAN_ID, "podman"), Names("pnsn-web")),
    ("docker-written", Container(DOCKER_ID, "docker"), Names("web")),
    ("crio-written", Container(CRIO_ID, "cri-o", CRIO_POD), Names("nginx", "shop/web-7d9f8b6c5-x2k4q")),
    ("containerd-written", Container(CONTAINERD_ID, "containerd", CONTAINERD_POD),
     Names(None, "kube-system/dns-5d78c9869d-qzv7m")),
    # a pod's container under the cgroupfs driver: the runtime is not named, the files are
    ("containerd-written", Container(CONTAINERD_ID, "kubernetes", CONTAINERD_POD),
     Names(None, "kube-system/dns-5d78c9869d-qzv7m")),
    ("podman-4.3.1-debian12", Container("lxc-is-its-own-name", "lxc"), Names("lxc-is-its-own-name")),
    ("podman-4.3.1-debian12", Container(DOCKER_ID, "docker"), Names()),  # not on disk
    ("podman-4.3.1-debian12", Container(None, "kubernetes", CRIO_POD), Names()),
])
def test_runtime_files_name_containers(root, container, names):
    files = RuntimeFiles(os.path.join(RUNTIMES, root))
    assert files.names(container) == names
    assert files.errors == []


def test_a_podman_bundle_config_names_no_pod():
    path = os.path.join(RUNTIMES, "podman-4.3.1-debian12", "var/lib/containers/storage",
                        "overlay-containers", PODMAN_ID, "userdata/config.json")
    with open(path, "rb") as f:
        assert runtimes.parse_oci_config(f.read()) == Names()


@pytest.mark.parametrize("parser, data", [
    (runtimes.parse_docker_config, b"{not json"),
    (runtimes.parse_docker_config, b'{"ID": "x"}'),
    (runtimes.parse_podman_containers, b'{"id": "x"}'),
    (runtimes.parse_oci_config, b"\xff\xfe"),
])
def test_malformed_runtime_files_raise_parse_error_naming_the_file(parser, data):
    with pytest.raises(ParseError) as err:
        parser(data, "/var/lib/x/file.json")
    assert err.value.path == "/var/lib/x/file.json"


def test_a_broken_runtime_file_is_a_note_not_a_crash(tmp_path):
    shutil.copytree(os.path.join(RUNTIMES, "docker-written"), tmp_path, dirs_exist_ok=True)
    path = tmp_path / "var/lib/docker/containers" / DOCKER_ID / "config.v2.json"
    path.write_bytes(b'{"Name": ')
    files = RuntimeFiles(str(tmp_path))
    assert files.names(Container(DOCKER_ID, "docker")) == Names()
    assert len(files.errors) == 1 and str(path) in files.errors[0]


def test_mountinfo_keeps_net_namespaces_and_unescapes_mount_points():
    data = (b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
            b"612 30 0:4 net:[4026532456] /run/netns/blue rw shared:5 - nsfs nsfs rw\n"
            b"613 30 0:4 net:[4026532456] /run/netns/blue rw shared:5 - nsfs nsfs rw\n"
            b"700 30 0:4 uts:[4026532500] /run/utsns/x rw - nsfs nsfs rw\n"
            b"701 30 0:4 net:[4026532600] /tmp/my\\040ns\\134x rw - nsfs nsfs rw\n")
    assert list(parse_mountinfo_netns(data)) == [
        (4026532456, "/run/netns/blue"), (4026532456, "/run/netns/blue"),
        (4026532600, "/tmp/my ns\\x")]
    with pytest.raises(ParseError) as err:
        list(parse_mountinfo_netns(b"22 1 0:21 / /proc rw\n", "/proc/self/mountinfo"))
    assert (err.value.path, err.value.line_no) == ("/proc/self/mountinfo", 1)


def test_label_prefers_host_pod_container_netns_id_inode():
    c = Container(DOCKER_ID, "docker", "uid-1")
    cases = [
        (NetNamespace(9, host=True, netns_name="n", container=c), labels.HOST, "host"),
        (NetNamespace(9, pod_name="shop/web", container_name="nginx", netns_name="n"),
         labels.POD, "shop/web"),
        (NetNamespace(9, container_name="web", netns_name="netns-1234", container=c),
         labels.CONTAINER, "web"),
        (NetNamespace(9, netns_name="blue", container=c), labels.NETNS, "blue"),
        (NetNamespace(9, container=c), labels.CONTAINER_ID, DOCKER_ID[:12]),
        (NetNamespace(9, container=Container(None, "kubernetes", "uid-1")), labels.POD_ID, "uid-1"),
        (NetNamespace(9), labels.INODE, "9"),
    ]
    assert [(ns.label_kind, ns.label) for ns, _, _ in cases] == [(k, t) for _, k, t in cases]
    assert NetNamespace(9, pids=[30, 7]).path == "/proc/30/ns/net"  # pids come sorted from discover
    assert NetNamespace(9, mounts=["/run/netns/a"], pids=[7]).path == "/run/netns/a"
    assert NetNamespace(9).path is None


def _proc(tmp_path, runtimes_root):
    """A /proc tree: regular files stand for ns links (hard links share a namespace's inode)."""
    proc = tmp_path / "proc"
    ns = tmp_path / "ns"
    ns.mkdir()
    for name in ("init", "docker", "pod", "lxc", "podman", "lonely"):
        (ns / name).write_text("")

    def process(pid, netns, cgroup="0::/\n", stat=None):
        d = proc / str(pid)
        (d / "ns").mkdir(parents=True)
        os.link(ns / netns, d / "ns" / "net")
        (d / "cgroup").write_text(cgroup)
        (d / "stat").write_text(stat or f"{pid} (p) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0")

    process(1, "init", "0::/init.scope\n")
    process(2, "init", stat="2 (kthreadd) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0")
    process(100, "docker", f"0::/system.slice/docker-{DOCKER_ID}.scope\n")
    slice_ = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
    process(200, "pod", f"0::/{slice_}{CRIO_POD.replace('-', '_')}.slice/crio-conmon-{CRIO_ID}.scope\n")
    process(201, "pod", f"0::/{slice_}{CRIO_POD.replace('-', '_')}.slice/crio-{CRIO_ID}.scope\n")
    process(300, "lxc", "0::/lxc.payload.web1/init.scope\n")
    process(400, "podman", f"0::/machine.slice/libpod-{PODMAN_ID}.scope\n")
    (proc / "self").mkdir()
    mount = tmp_path / "netns-mount"
    os.link(ns / "lonely", mount)
    podman_mount = tmp_path / "run-netns" / "netns-0b1c"
    podman_mount.parent.mkdir()
    os.link(ns / "podman", podman_mount)
    (proc / "self" / "mountinfo").write_bytes(
        b"22 1 0:21 / /proc rw - proc proc rw\n"
        + f"90 30 0:4 net:[{os.stat(mount).st_ino}] {mount} rw - nsfs nsfs rw\n".encode()
        + f"91 30 0:4 net:[{os.stat(mount).st_ino}] {mount} rw - nsfs nsfs rw\n".encode()
        + f"92 30 0:4 net:[{os.stat(podman_mount).st_ino}] {podman_mount} rw - nsfs nsfs rw\n".encode()
        + f"93 30 0:4 net:[1234] {tmp_path}/gone rw - nsfs nsfs rw\n".encode())
    return ProcFS(str(proc)), {n: os.stat(ns / n).st_ino for n in os.listdir(ns)}


@pytest.fixture
def built(tmp_path):
    """Discovery over ``_proc``'s tree, with the runtimes' files of three fixture roots."""
    root = tmp_path / "root"
    for tree in ("docker-written", "crio-written", "podman-4.3.1-debian12"):
        shutil.copytree(os.path.join(RUNTIMES, tree), root, dirs_exist_ok=True)
    proc, inode = _proc(tmp_path, root)
    found = discover(proc, RuntimeFiles(str(root)))
    return found, proc, inode


def test_discovery_over_a_built_tree(built):
    found, _proc_fs, inode = built
    got = {ns.inode: (ns.label_kind, ns.label, ns.pids, len(ns.mounts)) for ns in found.namespaces}
    assert got == {
        inode["init"]: (labels.HOST, "host", [1, 2], 0),
        inode["docker"]: (labels.CONTAINER, "web", [100], 0),
        inode["pod"]: (labels.POD, "shop/web-7d9f8b6c5-x2k4q", [200, 201], 0),
        inode["lxc"]: (labels.CONTAINER, "web1", [300], 0),
        inode["podman"]: (labels.CONTAINER, "pnsn-web", [400], 1),
        inode["lonely"]: (labels.INODE, str(inode["lonely"]), [], 1),
    }
    assert found.namespaces[0] is found.host and (found.denied, found.notes) == (0, [])
    pod = found.by_inode(inode["pod"])
    assert pod.to_json() == {
        "inode": inode["pod"], "label": "shop/web-7d9f8b6c5-x2k4q", "name": None,
        "container": {"id": CRIO_ID, "runtime": "cri-o", "name": "nginx"},
        "pod": {"uid": CRIO_POD, "name": "shop/web-7d9f8b6c5-x2k4q"}}
    assert found.host.to_json()["container"] is None


def test_find_target_by_pid_path_name_and_id_prefix(built, tmp_path):
    found, proc, inode = built

    def inodes(target):
        return [ns.inode for ns in find_target(found, target)]

    assert inodes("100") == inodes("web") == inodes(DOCKER_ID[:4]) == [inode["docker"]]
    assert inodes("shop/web-7d9f8b6c5-x2k4q") == inodes(CRIO_ID[:12]) == [inode["pod"]]
    assert inodes("pnsn-web") == inodes(proc.path("400/ns/net")) == [inode["podman"]]
    assert inodes(str(tmp_path / "netns-mount")) == [inode["lonely"]]
    assert inodes(DOCKER_ID[:3]) == inodes("999") == inodes("nobody") == []
    assert inodes(str(tmp_path / "absent")) == []
    other = tmp_path / "elsewhere"
    other.write_text("")
    [new] = find_target(found, str(other))
    assert (new.inode, new.mounts) == (os.stat(other).st_ino, [str(other)])
