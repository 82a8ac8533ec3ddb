"""The pure parsers of linux/process.py on recorded and kernel-format fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pynetstat.errors import ParseError
from pynetstat.linux.process import parse_cgroup, parse_cmdline, parse_stat, parse_status_uid
from pynetstat.model.process import Container

FIXTURES = Path(__file__).parent / "fixtures" / "linux"


def stat_fixture(name: str) -> bytes:
    return (FIXTURES / "proc-stat" / name).read_bytes()


def test_stat_plain():
    comm, state, ppid, start = parse_stat(stat_fixture("cat-plain.stat"))
    assert (comm, state) == ("cat", "R")
    assert ppid > 1 and start > 0


def test_stat_init_has_no_parent():
    assert parse_stat(stat_fixture("init.stat"))[:3] == ("process_api", "S", 0)


def test_stat_comm_with_spaces_and_parentheses():
    comm, state, ppid, _ = parse_stat(stat_fixture("comm-spaces-parens.stat"))
    assert comm == "a) b (c)"
    assert state == "S" and ppid > 1


def test_stat_comm_with_control_chars_and_invalid_utf8():
    comm, state, _, _ = parse_stat(stat_fixture("comm-control-invalid-utf8.stat"))
    assert comm == "x\x1b[31m\n)\udcff("  # the invalid byte survives as surrogateescape
    assert comm.encode("utf-8", "surrogateescape") == b"x\x1b[31m\n)\xff("
    assert state == "S"


@pytest.mark.parametrize("bad", [b"", b"12 cat R 1", b"12 (cat) R 1 2 3", b"12 (cat) R x " + b"0 " * 30])
def test_stat_malformed_raises_parse_error(bad):
    with pytest.raises(ParseError) as exc:
        parse_stat(bad, "/proc/12/stat")
    assert exc.value.path == "/proc/12/stat"


@given(st.binary(max_size=200))
def test_stat_any_bytes_parse_or_raise_our_error(data):
    try:
        comm, state, ppid, start = parse_stat(data)
    except ParseError:
        return
    assert isinstance(comm, str) and isinstance(ppid, int) and isinstance(start, int)


def test_status_uid():
    data = b"Name:\tcat\nUmask:\t0022\nState:\tR (running)\nUid:\t1000\t1001\t1002\t1003\nGid:\t0\n"
    assert parse_status_uid(data) == 1000
    with pytest.raises(ParseError):
        parse_status_uid(b"Name:\tcat\n")


@pytest.mark.parametrize(("raw", "argv"), [
    (b"", []),
    (b"sleep\x0030\x00", ["sleep", "30"]),
    (b"a\x00\x00b\x00", ["a", "", "b"]),  # an empty argument is kept
    (b"nginx: worker process", ["nginx: worker process"]),  # setproctitle, no NUL
    (b"\xff\x1b\x00", ["\udcff\x1b"]),
])
def test_cmdline(raw, argv):
    assert parse_cmdline(raw) == argv


D64 = "[0-9a-f]{64}"


def cgroup(name: str):
    return parse_cgroup((FIXTURES / "proc-cgroup" / f"{name}.cgroup").read_bytes())


def test_every_cgroup_fixture_is_covered():
    names = {p.stem for p in (FIXTURES / "proc-cgroup").glob("*.cgroup")}
    assert names == set(EXPECTED) | {"sandbox-hybrid-process"}


# name -> (path, unit, (runtime, has_id, has_pod) or None)
EXPECTED = {
    "sandbox-hybrid-init": ("/", None, None),
    "v1-root-only": ("/", None, None),
    "v2-systemd-service": ("/system.slice/ssh.service", "ssh.service", None),
    "v2-systemd-init": ("/init.scope", "init.scope", None),
    "v2-user-session-scope": ("/user.slice/user-1000.slice/session-3.scope", "session-3.scope", None),
    "v2-user-manager-service": ("/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service",
                                "pipewire.service", None),
    "v2-user-manager-app": (None, "vte-spawn-0c4f1e52-55d8-4a53-9f0e-3e0d1c2b7a10.scope", None),
    "hybrid-systemd-service": ("/system.slice/nginx.service", "nginx.service", None),
    "v1-docker-cgroupfs": (None, None, ("docker", True, False)),
    "v1-docker-systemd": (None, "docker-*", ("docker", True, False)),
    "v2-docker-systemd": (None, "docker-*", ("docker", True, False)),
    "v1-docker-in-docker": (None, None, ("docker", True, False)),
    "v2-podman-rootful": (None, "libpod-*", ("podman", True, False)),
    "v2-podman-rootless": (None, "libpod-*", ("podman", True, False)),
    "v2-podman-conmon": (None, "libpod-conmon-*", None),
    "v1-k8s-cgroupfs": (None, None, ("kubernetes", True, True)),
    "v1-k8s-cgroupfs-subcgroup": (None, None, ("kubernetes", True, True)),
    "v1-k8s-systemd-containerd": (None, "cri-containerd-*", ("containerd", True, True)),
    "v2-k8s-systemd-containerd": (None, "cri-containerd-*", ("containerd", True, True)),
    "v1-k8s-containerd-colon": (None, "containerd.service", ("containerd", True, True)),
    "v2-k8s-crio": (None, "crio-*", ("cri-o", True, True)),
    "v2-k8s-pod-only": (None, None, ("kubernetes", False, True)),
    "v2-lxc": ("/lxc.payload.web01", None, ("lxc", True, False)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cgroup_fixture(name):
    want_path, want_unit, want_container = EXPECTED[name]
    raw = (FIXTURES / "proc-cgroup" / f"{name}.cgroup").read_text()
    path, unit, container = cgroup(name)
    if want_path is not None:
        assert path == want_path
    assert path is not None and any(line.endswith(":" + path) for line in raw.splitlines())
    if want_unit is not None and want_unit.endswith("*"):
        assert unit is not None and unit.startswith(want_unit[:-1])
    else:
        assert unit == want_unit
    if want_container is None:
        assert container is None
        return
    runtime, has_id, has_pod = want_container
    assert container.runtime == runtime
    assert (container.id is not None) == has_id
    assert (container.pod is not None) == has_pod
    if has_id and runtime != "lxc":
        assert len(container.id) == 64 and container.id in raw
    if has_pod:  # the UID with dashes, whichever form the path spells it in
        assert len(container.pod) == 36
        assert container.pod in raw or container.pod.replace("-", "_") in raw


def test_cgroup_innermost_container_wins():
    raw = (FIXTURES / "proc-cgroup" / "v1-docker-in-docker.cgroup").read_text()
    outer, inner = raw.split(":/docker/", 1)[1].split("\n")[0].split("/docker/")
    assert cgroup("v1-docker-in-docker")[2] == Container(inner, "docker")


def test_cgroup_this_machine():
    path, unit, container = cgroup("sandbox-hybrid-process")
    assert path.startswith("/process_api/")  # the v1 memory hierarchy: the only one not at "/"
    assert unit is None and container is None


def test_cgroup_empty_and_malformed():
    assert parse_cgroup(b"") == (None, None, None)
    with pytest.raises(ParseError) as exc:
        parse_cgroup(b"0::/\nnot a cgroup line\n", "/proc/9/cgroup")
    assert (exc.value.path, exc.value.line_no) == ("/proc/9/cgroup", 2)


def test_cgroup_path_may_hold_colons_and_hostile_bytes():
    path, unit, _ = parse_cgroup(b"0::/system.slice/a:b\x1b[7m\xff.service\n")
    assert path == "/system.slice/a:b\x1b[7m\udcff.service"
    assert unit == "a:b\x1b[7m\udcff.service"


@given(st.binary(max_size=300))
def test_cgroup_any_bytes_parse_or_raise_our_error(data):
    try:
        path, unit, container = parse_cgroup(data)
    except ParseError:
        return
    assert path is None or isinstance(path, str)
