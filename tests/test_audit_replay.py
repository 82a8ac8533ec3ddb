"""The audit's cross-view (sign 8) over recorded kernels, its race exclusion, the judges' exit
statuses, and the escaping of what the audit prints (issue 16)."""

from __future__ import annotations

import io
import json
import os
import re

import pytest

from pynetstat.audit.signs import SIGNS, Audit, exit_status, judge
from pynetstat.env import Environment
from pynetstat.linux.crossview import compare_views
from pynetstat.linux.evidence import collect_evidence
from pynetstat.linux.netlink import ReplayNetlink
from pynetstat.linux.procfs import ProcFS
from pynetstat.model.evidence import ALERT, INFO, WARNING, Evidence, Fact, Finding, ProcessFacts
from pynetstat.model.process import ProcessInfo
from pynetstat.render.audit import findings_json, findings_text

LINUX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "linux")
HIDDEN = 5238524  # the listener audit-crossview/README.md says was taken out of proc/net/tcp


def _views(name: str, procfs=None):
    notes: list[str] = []
    base = os.path.join(LINUX, name)
    found, alive = compare_views(ReplayNetlink(os.path.join(base, "netlink")),
                                 procfs or ProcFS(os.path.join(base, "proc")), notes)
    return found, alive, notes


def test_a_line_hidden_from_proc_is_found():
    found, alive, notes = _views("audit-crossview")
    assert notes == []
    assert [(s.inode, s.local_address, s.local_port, seen, missing) for s, seen, missing in found] \
        == [(HIDDEN, "127.0.0.1", 45253, "sock_diag tcp", "/proc/net/tcp")]
    assert HIDDEN in alive


def test_agreeing_views_give_nothing():
    found, alive, notes = _views("conn-normal")
    assert found == [] and notes == [] and HIDDEN in alive


class _Flicker(ProcFS):
    """/proc/net/tcp of audit-crossview on the reads listed in ``hidden``, of conn-normal on the
    others: a socket that a race shows in one view only."""

    def __init__(self, hidden):
        super().__init__(os.path.join(LINUX, "conn-normal", "proc"))
        self.hidden = hidden
        self.reads = 0

    def read_text(self, rel):
        if rel == "net/tcp":
            self.reads += 1
            if self.reads in self.hidden:
                with open(os.path.join(LINUX, "audit-crossview", "proc", rel)) as f:
                    return f.read()
        return super().read_text(rel)


def test_a_difference_seen_once_is_a_race_not_a_finding():
    found, _, _ = _views("conn-normal", _Flicker({1}))
    assert found == []


def test_a_difference_seen_twice_is_a_finding():
    flicker = _Flicker({1, 2})
    found, _, _ = _views("conn-normal", flicker)
    assert [s.inode for s, _, _ in found] == [HIDDEN] and flicker.reads == 2


def test_the_whole_audit_over_a_recorded_kernel(tmp_path):
    base = os.path.join(LINUX, "audit-crossview")
    env = Environment(io.StringIO(), io.StringIO(), environ={},
                      proc_root=os.path.join(base, "proc"))
    (tmp_path / "sys").mkdir()
    evidence = collect_evidence(env, ReplayNetlink(os.path.join(base, "netlink")),
                                etc=str(tmp_path), sys_root=str(tmp_path / "sys"))
    found = judge(evidence)
    (views,) = [f for f in found if f.sign == "views-disagree"]
    assert views.severity == ALERT and views.sockets[0].inode == HIDDEN
    assert [(e.what, e.value) for e in views.evidence] == [
        ("listed by", "sock_diag tcp"), ("missing from", "/proc/net/tcp")]
    # A recorded tree has no processes: every socket is unowned, and that is info (we could not
    # see the fds), never a warning.
    (unowned,) = [f for f in found if f.sign == "unowned-socket"]
    assert unowned.severity == INFO
    assert exit_status(found) == Audit.ALERTS
    text = findings_text(found, 0, evidence.notes)
    assert text.startswith("ALERT views-disagree: ")
    assert "    socket: tcp 127.0.0.1:45253 -> 0.0.0.0:0 LISTEN inode 5238524\n" in text
    assert text.endswith("Audit: 1 alert, 0 warnings, 1 info; 0 processes with network sockets "
                         "checked.\n")


def test_exit_statuses():
    def one(severity):
        return Finding(severity, "x", "why")
    assert exit_status([]) == 0
    assert exit_status([one(INFO)]) == 0
    assert exit_status([one(INFO), one(WARNING)]) == Audit.WARNINGS == 4
    assert exit_status([one(WARNING), one(ALERT)]) == Audit.ALERTS == 3
    assert len({s.name for s in SIGNS}) == len(SIGNS)


def _liar(name: str, exe: str) -> Evidence:
    evidence = Evidence()
    pf = ProcessFacts(7, ProcessInfo(7, name, uid=0, exe=exe))
    pf.facts["name"] = Fact("name", name, "/proc/7/stat")
    pf.facts["exe"] = Fact("executable", {"path": exe, "deleted": False, "memfd": False,
                                          "replaced": None}, "/proc/7/exe")
    evidence.processes[7] = pf
    return evidence


def test_a_daemon_name_on_another_executable():
    assert [f.sign for f in judge(_liar("sshd", "/home/u/sshd"))] == ["lying-name"]
    assert [f.sign for f in judge(_liar("sshd", "/usr/bin/python3.11"))] == ["lying-name"]
    assert judge(_liar("sshd", "/usr/sbin/sshd")) == []
    assert judge(_liar("nginx", "/usr/sbin/nginx")) == []
    assert judge(_liar("kworker", "/usr/bin/kworker-tool")) == []  # no slash: not a kthread's


def test_untrusted_strings_are_escaped():
    name, exe = "\x1b[31mev\u202eil\n", "/tmp/a\udcffb"
    evidence = _liar(name, exe)
    evidence.processes[7].facts["name"].value = "[" + name + "]"
    found = judge(evidence)
    text = findings_text(found, 1, ["note \x07"])
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "\\x1b[31mev\\u202eil\\n" in text and "/tmp/a\\xffb" in text
    doc = json.loads(json.dumps(findings_json(found, 1, [], exit_status(found))))
    (finding,) = doc["findings"]
    assert finding["process"]["exe"] == "/tmp/a\\xffb"
    assert finding["evidence"][0]["value"] == "[" + name + "]"
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # no lone surrogate left


def test_docs_list_every_sign_and_its_severity_rule():
    from pynetstat.audit.signs import DAEMONS, SHELLS
    from pynetstat.linux.evidence import TEMPORARY_PLACES

    with open(os.path.join(LINUX, "..", "..", "..", "docs", "audit.md")) as f:
        doc = f.read()
    rows = {line.split(" | ")[0].strip("| `"): line.split(" | ")[1]
            for line in doc.splitlines() if line.startswith("| `")}
    assert {s.name: s.severity for s in SIGNS}.items() <= rows.items()
    listed = set(re.findall(r"[ (]([a-z0-9-]+)(?=[,)])", doc))
    assert SHELLS | set(DAEMONS) <= listed
    assert all(f"`{place.rstrip('/')}`" in doc for place in TEMPORARY_PLACES)


def test_an_environment_we_may_not_read_is_said_not_judged():
    from pynetstat.linux import evidence as collector

    class Denied(ProcFS):
        def read_bytes(self, rel):
            if rel.endswith("/environ"):
                raise PermissionError(13, "Permission denied")
            return super().read_bytes(rel)

    fact = collector._ld_preload(Denied("/proc"), os.getpid())
    assert (fact.value, fact.unreadable) == (None, "permission denied")
    evidence = _liar("app", "/usr/bin/app")
    evidence.processes[7].facts["ld_preload"] = fact
    assert judge(evidence) == []


def test_a_line_without_an_inode_gives_no_verdict(tmp_path):
    import shutil

    shutil.copytree(os.path.join(LINUX, "audit-crossview", "proc"), tmp_path / "proc")
    with open(tmp_path / "proc" / "net" / "tcp", "a") as f:
        f.write("  99: 0100007F:0016 00000000:0000 0A garbage\n")
    found, _, notes = _views("audit-crossview", ProcFS(str(tmp_path / "proc")))
    assert found == []
    assert len(notes) == 1 and notes[0].startswith("tcp: the two kernel views were not compared: ")
    assert "no inode field" in notes[0]


class _Extra(ProcFS):
    """conn-normal's /proc/net/tcp with one more line: a socket sock_diag does not list."""

    LINE = ("  27: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
            "        0 999999 1 0000000000000000 100 0 0 10 0\n")

    def read_text(self, rel):
        text = super().read_text(rel)
        return text + self.LINE if rel == "net/tcp" else text


def test_a_socket_hidden_from_sock_diag_is_found():
    found, _, _ = _views("conn-normal", _Extra(os.path.join(LINUX, "conn-normal", "proc")))
    assert [(s.inode, s.local_address, s.local_port, s.state, seen, missing)
            for s, seen, missing in found] == [
        (999999, "127.0.0.1", 8080, 10, "/proc/net/tcp", "sock_diag tcp")]


def test_packet_sockets_from_proc_promiscuous_only_when_no_interface_is(tmp_path):
    """Without packet_diag, /proc/net/packet lists no memberships; but the kernel sets IFF_PROMISC
    on a device while a socket holds it so: no promiscuous interface, no promiscuous socket."""
    from pynetstat.linux.capture import packet_sockets, raw_sockets
    from pynetstat.linux.owners import OwnerMap
    from pynetstat.model.sockets import ScanReport

    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "packet").write_text(
        "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n"
        "ffff8a0c00000000 3      3    0003   2     1 0      0      31137\n")
    (tmp_path / "net" / "raw").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode ref pointer drops\n"
        "  1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0  "
        "      0 828204 2 00000000c139d7f5 0\n")
    owners = OwnerMap(ScanReport())
    owners.add(31137, 42)
    notes: list[str] = []
    procfs = ProcFS(str(tmp_path))
    (fact, pids), = packet_sockets(None, procfs, owners, {2: "eth0"}, False, notes)
    assert pids == (42,) and fact.source == str(tmp_path / "net" / "packet")
    assert fact.value == {"inode": 31137, "type": "raw", "protocol": 3, "protocol_name": "all",
                          "interface": "eth0", "promiscuous": False, "promiscuous_on": None,
                          "uid": 0}
    (fact, _), = packet_sockets(None, procfs, owners, {2: "eth0"}, True, notes)
    assert fact.value["promiscuous"] is None  # some interface is: /proc cannot say which socket
    (raw, nobody), = raw_sockets(None, procfs, owners, {}, notes)
    assert nobody == () and (raw.value["protocol"], raw.value["protocol_name"]) == (1, "icmp")
    assert raw.source == str(tmp_path / "net" / "raw") and notes == []


def _holding(kind: str, value: dict, name: str, exe: str | None) -> Evidence:
    evidence = Evidence()
    if exe is not None:
        pf = evidence.processes[7] = ProcessFacts(7, ProcessInfo(7, name, uid=0, exe=exe))
        pf.facts["name"] = Fact("name", name, "/proc/7/stat")
        pf.facts["exe"] = Fact("executable", {"path": exe, "deleted": False, "memfd": False},
                               "/proc/7/exe")
    held = [(Fact(kind.replace("-", " "), value, "sock_diag"), (7,) if exe else ())]
    if kind == "packet-socket":
        evidence.packet_sockets = held
    else:
        evidence.raw_sockets = held
    return evidence


@pytest.mark.parametrize("kind, value, name, exe, severity", [
    ("packet-socket", {"promiscuous": False}, "dhclient", "/usr/sbin/dhclient", INFO),
    ("packet-socket", {"promiscuous": False}, "udhcpc", "/bin/busybox", INFO),  # an applet
    ("packet-socket", {"promiscuous": None}, "dhclient", "/usr/sbin/dhclient", WARNING),
    ("packet-socket", {"promiscuous": True}, "dhclient", "/usr/sbin/dhclient", WARNING),
    ("packet-socket", {"promiscuous": True}, "tcpdump", "/usr/bin/tcpdump", ALERT),
    ("packet-socket", {"promiscuous": False}, "tcpdump", "/usr/bin/tcpdump", WARNING),
    ("packet-socket", {"promiscuous": True}, "x", None, WARNING),  # nobody, every fd read
    ("raw-socket", {"protocol": 1}, "ping", "/usr/bin/ping", INFO),
    ("raw-socket", {"protocol": 58}, "systemd-networkd", "/usr/lib/systemd/systemd-networkd",
     INFO),
    ("raw-socket", {"protocol": 6}, "systemd-networkd", "/usr/lib/systemd/systemd-networkd",
     WARNING),  # router discovery needs no raw TCP
    ("raw-socket", {"protocol": 1}, "python3", "/usr/bin/python3.11", WARNING),
])
def test_who_holds_a_packet_or_raw_socket_decides_its_severity(kind, value, name, exe, severity):
    (sign,) = [s for s in SIGNS if s.name == kind]
    (found,) = sign.judge(_holding(kind, value, name, exe), sign)
    assert found.severity == severity
    what = [e.what for e in found.evidence]
    if exe is None:
        assert found.process is None and what == [kind.replace("-", " "),
                                                  "every process's fds were read"]
    else:
        assert found.process.pid == 7 and what[-1] == kind.replace("-", " ")
