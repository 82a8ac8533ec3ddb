"""owner_lines / owner_json: the -b, -b -v and --json forms of a connection's owners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pynetstat.linux.process import read_process
from pynetstat.linux.procfs import ProcFS
from pynetstat.model.process import PERMISSION_DENIED, Container, ProcessInfo
from pynetstat.render.owners import UNREADABLE_LINE, component, owner_json, owner_lines

TREE = ProcFS(str(Path(__file__).parent / "fixtures" / "linux" / "proc-tree"))
DOCKER_ID = "3a1f9c0be5d24e7f8a6b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f7"


def proc(pid: int) -> ProcessInfo:
    return read_process(TREE, pid, ancestry=True)


def test_b_service_as_the_spec_lays_it_out():
    assert owner_lines([proc(801)], verbose=False) == ["  ssh.service", " [sshd]"]


def test_b_container_shows_short_id():
    assert owner_lines([proc(2050)], verbose=False) == [f"  docker:{DOCKER_ID[:12]}", " [nginx]"]


def test_b_no_component_only_the_executable():
    assert owner_lines([proc(1)], verbose=False) == ["  init.scope", " [systemd]"]
    assert owner_lines([proc(4000)], verbose=False) == [" [kworker/0:1]"]  # no exe: comm


def test_b_deleted_executable_is_visible():
    assert owner_lines([proc(1310)], verbose=False) == [
        "  session-3.scope", "  python3 (1310)", " [python3.11 (deleted)]"]


def test_bv_whole_sequence():
    assert owner_lines([proc(1310)], verbose=True) == [
        "  /user.slice/user-1000.slice/session-3.scope",
        "  session-3.scope",
        "  systemd (1)",
        "  sshd (801)",
        "  sshd (1204)",
        "  bash (1205)",
        "  python3 (1310)",
        "  /usr/bin/python3.11 (deleted)",
        " [python3.11 (deleted)]",
    ]


def test_bv_unknown_parent_name():
    assert owner_lines([proc(3000)], verbose=True)[2:4] == ["  ? (2999)", "  orphan-child (3000)"]


def test_unreadable_prints_the_spec_message():
    denied = ProcessInfo(4242, "sshd", start_time=1, unreadable=PERMISSION_DENIED)
    assert owner_lines([denied], verbose=False) == [UNREADABLE_LINE]
    assert owner_lines([denied], verbose=True) == [" Can not obtain ownership information"]
    assert owner_lines([read_process(TREE, 999999)], verbose=False) == [UNREADABLE_LINE]


def test_several_owners_each_executable_shown():
    lines = owner_lines([proc(801), proc(2050)], verbose=False)
    assert lines == ["  ssh.service", "  sshd (801)", " [sshd]",
                     f"  docker:{DOCKER_ID[:12]}", "  nginx (2050)", " [nginx]"]


def test_prefork_workers_print_once_under_b_each_under_bv():
    master, worker = proc(801), proc(801)
    assert owner_lines([master, worker], verbose=False) == ["  ssh.service", " [sshd]"]
    session = proc(1204)  # same exe and name, another unit and PID
    assert owner_lines([master, session], verbose=False) == [
        "  ssh.service", "  sshd (801)", " [sshd]", "  session-3.scope", "  sshd (1204)", " [sshd]"]
    both = owner_lines([master, session], verbose=True)
    assert "  sshd (801)" in both and "  sshd (1204)" in both


def test_b_names_every_pid_of_a_shared_socket():
    """The PID column shows the lowest PID only: -b lists the holders, workers of one server on
    one line."""
    workers = [proc(801), ProcessInfo(802, "sshd", exe="/usr/sbin/sshd", unit="ssh.service"),
               ProcessInfo(803, "sshd", exe="/usr/sbin/sshd", unit="ssh.service")]
    assert owner_lines(workers, verbose=False) == ["  ssh.service", "  sshd (801, 802, 803)", " [sshd]"]
    denied = ProcessInfo(4242, "x", unreadable=PERMISSION_DENIED)
    assert owner_lines([proc(801), denied], verbose=False) == [
        "  ssh.service", "  sshd (801)", " [sshd]", UNREADABLE_LINE]


@pytest.mark.parametrize(("name", "exe", "shown"), [
    ("redis-server", "/usr/bin/redis-check-rdb", True),   # Debian's link to a multi-call binary
    ("httpd", "/bin/busybox", True),                      # a busybox applet
    ("systemd-resolve", "/usr/lib/systemd/systemd-resolved", False),  # comm is cut to 15 bytes
    ("sshd", "/usr/sbin/sshd", False),
])
def test_b_shows_the_process_name_when_the_file_is_called_otherwise(name, exe, shown):
    info = ProcessInfo(4242, name, exe=exe, unit="x.service")
    lines = owner_lines([info], verbose=False)
    base = exe.rpartition("/")[2]
    assert lines == ["  x.service"] + ([f"  {name} (4242)"] if shown else []) + [f" [{base}]"]


def test_no_owners_no_lines():
    assert owner_lines([], verbose=True) == []


@pytest.mark.parametrize(("container", "shown"), [
    (Container("a" * 64, "containerd", "0b0b0b0b-1111-2222-3333-444444444444"),
     "containerd:aaaaaaaaaaaa (pod 0b0b0b0b-1111-2222-3333-444444444444)"),
    (Container(None, "kubernetes", "0b0b0b0b-1111-2222-3333-444444444444"),
     "pod 0b0b0b0b-1111-2222-3333-444444444444"),
    (Container("web01", "lxc"), "lxc:web01"),
])
def test_component_forms(container, shown):
    assert component(ProcessInfo(1, "x", unit="u.scope", container=container)) == shown


def test_hostile_strings_escaped_in_every_line():
    lines = owner_lines([proc(5000)], verbose=True)
    assert lines == [
        "  /system.slice/evil\\x1b[7m.service",
        "  evil\\x1b[7m.service",
        "  systemd (1)",
        "  \\x1b[31mred\\n\\xff (5000)",
        "  /tmp/\\u202eevil\\x1b]0;x\\x07/a b",
        " [a b]",
    ]


def test_json_owner_fields():
    doc = owner_json(proc(2050))
    assert doc == {
        "pid": 2050, "name": "nginx", "exe": "/usr/sbin/nginx", "exe_deleted": False,
        "cmdline": ["nginx: master process nginx -g daemon off;"], "uid": 0, "ppid": 2001,
        "start_time": 5301, "unit": f"docker-{DOCKER_ID}.scope",
        "container": {"id": DOCKER_ID, "runtime": "docker", "pod": None},
        "cgroup": f"/system.slice/docker-{DOCKER_ID}.scope",
        "ancestry": [{"pid": 2001, "name": "containerd-shim"}, {"pid": 1, "name": "systemd"}],
        "unreadable": None,
    }


def test_json_unreadable_owner():
    doc = owner_json(read_process(TREE, 999999))
    assert doc["pid"] == 999999 and doc["unreadable"] == "vanished"
    assert doc["exe"] is None and doc["container"] is None and doc["ancestry"] is None


def test_json_hostile_strings_stay_valid_utf8_on_one_line():
    doc = owner_json(proc(5000))
    text = json.dumps(doc, ensure_ascii=False)
    text.encode("utf-8")
    assert "\n" not in text and "\x1b" not in text
    back = json.loads(text)
    assert back["name"] == "\x1b[31mred\n\\xff"  # real controls; the bad byte as \xff
    assert back["cmdline"] == ["\x1b[2J", "--name=\\xff\\xfe"]
    assert back["exe"] == "/tmp/\u202eevil\x1b]0;x\x07/a b"


def test_accepts_the_connection_tables_owner_objects():
    from pynetstat.model.sockets import Owner

    read = Owner(801, "sshd", proc(801))
    unread = Owner(77, "worker")  # process not looked up: the scan's name still shows
    assert owner_lines([read, unread], verbose=False) == [
        "  ssh.service", "  sshd (801)", " [sshd]", "  worker (77)", " [worker]"]
    assert owner_json(read) == owner_json(proc(801))
    assert owner_json(unread)["name"] == "worker"
