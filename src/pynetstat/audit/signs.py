"""The telltale signs of compromise (issue 16), as a table of pure judges over ``Evidence``.

Each row of ``SIGNS`` is a ``Sign``: its name, its severity rule (in words, for docs/audit.md),
one sentence of why it matters, and the judge, a function ``Evidence -> [Finding]`` that reads
facts and never the kernel. No judge guesses from port numbers or addresses: each finding rests
on facts the collector read, and carries them as its evidence.

Exit statuses (``exit_status``): ``Audit.ALERTS`` (3) when any finding is an alert,
``Audit.WARNINGS`` (4) when the worst is a warning, ``Exit.OK`` (0) otherwise (info only, or
nothing); ``Audit.CHANGED`` (5) is ``--diff``'s status when the baseline and now differ.
"""

from __future__ import annotations

from pynetstat.model.evidence import ALERT, INFO, SEVERITIES, WARNING, Fact, Finding
from pynetstat.model.sockets import TCP_LISTEN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from pynetstat.model.evidence import Evidence, ProcessFacts
    from pynetstat.model.sockets import InetSocket

    # (sign, the socket's fact, the processes that hold it) -> (severity, why)
    HeldRule = Callable[["Sign", Fact, list[ProcessFacts]], tuple[str, str]]


class Audit:
    """Exit statuses of --audit and --diff (besides errors.Exit's 0, 1, 2 and signals)."""

    ALERTS = 3
    WARNINGS = 4
    CHANGED = 5


# Shells and interpreters that give a remote user a command line when their standard streams
# are a socket (a reverse or bind shell). Matched on the name and on the executable's base name,
# versions cut off: python3.11 -> python.
SHELLS = frozenset({"sh", "ash", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish",
                    "busybox", "python", "perl", "ruby", "php", "lua", "node", "tclsh", "wish",
                    "awk", "gawk", "irb", "pwsh"})
# Kernel threads' names ``kworker/0:1``: a process with an executable has no business there.
KTHREAD_PREFIXES = ("kworker/", "ksoftirqd/", "migration/", "kthreadd", "rcu_", "kswapd",
                    "khugepaged", "kdevtmpfs", "jbd2/", "irq/", "cpuhp/", "idle_inject/")
# Well-known daemons, and the base names their executables have in the distributions' packages.
DAEMONS = {
    "sshd": ("sshd", "sshd-session", "sshd-auth"), "systemd": ("systemd",),
    "cron": ("cron",), "crond": ("crond",), "nginx": ("nginx",), "apache2": ("apache2",),
    "httpd": ("httpd",), "dbus-daemon": ("dbus-daemon", "dbus-broker"),
    "rsyslogd": ("rsyslogd",), "chronyd": ("chronyd",), "ntpd": ("ntpd",), "named": ("named",),
    "dockerd": ("dockerd",), "containerd": ("containerd",), "master": ("master",),
}
# Programs that hold a packet socket by trade: DHCP speaks to a host with no address yet, so
# clients (and the servers and relays that answer them) send and receive whole frames. Matched
# on the executable's base name (busybox's applet on its name: udhcpc is a link to busybox).
DHCP_PROGRAMS = frozenset({"dhclient", "dhcpcd", "udhcpc", "dhcp6c", "systemd-networkd",
                           "NetworkManager", "connmand", "wickedd-dhcp4", "wickedd-dhcp6",
                           "dhcpd", "dhcrelay", "kea-dhcp4"})
# Programs that hold a RAW socket by trade, and the IP protocols they need it for: ping and
# traceroute's ICMP (when unprivileged ICMP sockets are not allowed), router and neighbour
# discovery (ICMPv6), VRRP (112), OSPF (89).
RAW_PROGRAMS = {
    **dict.fromkeys(("ping", "ping4", "ping6", "fping", "fping6", "mtr-packet", "traceroute",
                     "traceroute6", "tracepath", "tcptraceroute"), frozenset({1, 6, 17, 58, 255})),
    **dict.fromkeys(("systemd-networkd", "NetworkManager", "radvd", "dhcpcd", "rdisc", "ndppd"),
                    frozenset({1, 58})),
    "keepalived": frozenset({112}),
    **dict.fromkeys(("bird", "bird6", "ospfd", "ospf6d"), frozenset({89})),
}
# Where packaged executables live (FHS; Nix, Guix and snap stores).
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/opt/", "/nix/store/",
                   "/gnu/store/", "/snap/")


class Sign:
    __slots__ = ("name", "severity", "why", "judge")

    def __init__(self, name: str, severity: str, why: str,
                 judge: Callable[[Evidence, Sign], list[Finding]]):
        self.name = name
        self.severity = severity  # the rule, in words
        self.why = why
        self.judge = judge


def _base(path: str | None) -> str:
    return path.rsplit("/", 1)[-1] if path else ""


def _family(name: str) -> str:
    """``python3.11`` -> ``python``; ``bash`` -> ``bash``."""
    return name.rstrip("0123456789.") or name


def _procs(evidence: Evidence) -> list[ProcessFacts]:
    return sorted(evidence.processes.values(), key=lambda pf: pf.pid)


def _who(pf: ProcessFacts, *keys: str) -> list[Fact]:
    """The facts that name a process (its name, user, argv[0]) and the ones asked for."""
    return [pf.facts[k] for k in ("name", "user", *keys) if k in pf.facts]


def _listeners(pf: ProcessFacts) -> list[InetSocket]:
    return [s for s in pf.sockets if s.state == TCP_LISTEN or (s.proto == "udp" and not s.remote_port)]


def judge_exe_gone(evidence: Evidence, sign: Sign) -> list[Finding]:
    found = []
    for pf in _procs(evidence):
        exe = pf.fact("exe")
        if not exe or not exe["deleted"] or exe["memfd"]:
            continue
        severity = INFO if exe["replaced"] else ALERT
        why = (sign.why if severity == ALERT else
               "The file it runs was replaced since it started (an upgrade not yet restarted).")
        found.append(Finding(severity, sign.name, why, pf, pf.sockets, _who(pf, "exe")))
    return found


def judge_memfd(evidence: Evidence, sign: Sign) -> list[Finding]:
    return [Finding(ALERT, sign.name, sign.why, pf, pf.sockets, _who(pf, "exe"))
            for pf in _procs(evidence) if (pf.fact("exe") or {}).get("memfd")]


def judge_place(evidence: Evidence, sign: Sign) -> list[Finding]:
    found = []
    for pf in _procs(evidence):
        place = pf.fact("exe_place")
        if place is not None:
            found.append(Finding(ALERT if place["world_writable"] else WARNING, sign.name,
                                 sign.why, pf, pf.sockets, _who(pf, "exe", "exe_place")))
    return found


def judge_shell(evidence: Evidence, sign: Sign) -> list[Finding]:
    found = []
    for pf in _procs(evidence):
        streams = pf.fact("std_sockets")
        if not streams:
            continue
        names = {_family(pf.fact("name") or ""), _family(_base((pf.fact("exe") or {}).get("path")))}
        if names & SHELLS:
            inodes = set(streams.values())
            socks = [s for s in pf.sockets if s.inode in inodes]
            found.append(Finding(ALERT, sign.name, sign.why, pf, socks,
                                 _who(pf, "exe", "std_sockets")))
    return found


def judge_name(evidence: Evidence, sign: Sign) -> list[Finding]:
    found = []
    for pf in _procs(evidence):
        exe = pf.fact("exe")
        if not exe:
            continue  # no executable to contradict the name (or we may not read it)
        path = exe["path"]
        lies = []
        for key in ("name", "argv0"):
            name = pf.fact(key) or ""
            bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
            if bare != name or bare.startswith(KTHREAD_PREFIXES):
                lies.append(key)  # a kernel thread's look, with an executable behind it
        name = pf.fact("name") or ""
        bases = DAEMONS.get(name)
        if bases and not exe["memfd"] and (_base(path) not in bases
                                           or not path.startswith(SYSTEM_PREFIXES)):
            lies.append("name")
        if lies:
            found.append(Finding(ALERT, sign.name, sign.why, pf, pf.sockets,
                                 _who(pf, *dict.fromkeys(("argv0", "exe")))))
    return found


def judge_open_listener(evidence: Evidence, sign: Sign) -> list[Finding]:
    found = []
    first = evidence.host.get("uid_min")
    for pf in _procs(evidence):
        wild = [s for s in _listeners(pf) if s.local_address in ("0.0.0.0", "::")]
        if not wild:
            continue
        unread = pf.process.unreadable if pf.process is not None else "no details"
        if unread:  # another PID namespace's process, or one we may not read: said, not judged
            found.append(Finding(INFO, sign.name, f"Its owner could not be judged: {unread}.", pf,
                                 wild, [Fact("process", None, f"/proc/{pf.pid}", unread)]))
            continue
        uid = pf.fact("user")
        ordinary = uid is not None and first is not None and uid >= first.value
        writable = pf.facts.get("exe_writable")
        if ordinary or writable:
            facts = _who(pf, "exe")
            facts += [first] if ordinary and first is not None else []
            facts += [writable] if writable else []
            found.append(Finding(WARNING, sign.name, sign.why, pf, wild, facts))
    return found


def judge_unowned(evidence: Evidence, sign: Sign) -> list[Finding]:
    if not evidence.unowned:
        return []
    seen = evidence.visibility
    if seen is not None:
        why = "These sockets may belong to processes we cannot see: " + seen.what + "."
        return [Finding(INFO, sign.name, why, None, evidence.unowned, [seen])]
    return [Finding(WARNING, sign.name, sign.why, None, evidence.unowned,
                    [Fact("every process's fds were read", True, "/proc/*/fd")])]


def judge_views(evidence: Evidence, sign: Sign) -> list[Finding]:
    return [Finding(ALERT, sign.name, sign.why, None, [sock],
                    [Fact("listed by", seen_in, seen_in), Fact("missing from", missing, missing)])
            for sock, seen_in, missing in evidence.disagreements]


def judge_preload(evidence: Evidence, sign: Sign) -> list[Finding]:
    found = []
    host = evidence.host.get("ld_so_preload")
    if host is not None and host.value:
        found.append(Finding(WARNING, sign.name, sign.why, None, [], [host]))
    for pf in _procs(evidence):
        if pf.fact("ld_preload"):
            found.append(Finding(WARNING, sign.name, sign.why, pf, pf.sockets,
                                 _who(pf, "exe", "ld_preload")))
    return found


def judge_promiscuous(evidence: Evidence, sign: Sign) -> list[Finding]:
    """The interface itself, with the packet sockets that hold it so (their own finding,
    ``packet-socket``, judges the holder)."""
    found = []
    for fact in evidence.interfaces:
        held = _capturer_facts(evidence, fact.value["interface"])
        if fact.value["master"]:
            why = f"A port of {fact.value['master']} is promiscuous because its master made it so."
            found.append(Finding(INFO, sign.name, why, None, [], [fact, *held]))
        else:
            found.append(Finding(WARNING, sign.name, sign.why, None, [], [fact, *held]))
    return found


def _holders(evidence: Evidence, pids: Iterable[int]) -> list[ProcessFacts]:
    return [evidence.processes[p] for p in pids if p in evidence.processes]


def _program(pf: ProcessFacts) -> str:
    """The executable's base name; a busybox applet's own name."""
    base = _base((pf.fact("exe") or {}).get("path"))
    return (pf.fact("name") or base) if base == "busybox" else base


def _held(evidence: Evidence, sign: Sign, held: list[tuple[Fact, tuple[int, ...]]],
          rule: HeldRule) -> list[Finding]:
    """A finding per packet or RAW socket of ``held`` (``[(Fact, pids)]``): ``rule(sign, fact,
    holders)`` gives severity and why from the facts. A socket no visible process holds is judged
    as ``unowned-socket`` judges one."""
    found = []
    for fact, pids in held:
        holders = _holders(evidence, pids)
        if not holders:
            seen = evidence.visibility
            if seen is not None:
                found.append(Finding(INFO, sign.name, "No process we can see holds it: "
                                     + seen.what + ".", None, [], [fact, seen]))
            else:
                found.append(Finding(WARNING, sign.name, sign.why + " No visible process holds "
                                     "it.", None, [], [fact, Fact("every process's fds were read",
                                                                  True, "/proc/*/fd")]))
            continue
        severity, why = rule(sign, fact, holders)
        pf = holders[0]
        facts = [*_who(pf, "exe"), fact]
        if len(holders) > 1:
            facts.append(Fact("also held by", [p.pid for p in holders[1:]], "/proc/*/fd"))
        found.append(Finding(severity, sign.name, why, pf, [], facts))
    return found


def _packet_rule(sign: Sign, fact: Fact, holders: list[ProcessFacts]) -> tuple[str, str]:
    dhcp = all(_program(pf) in DHCP_PROGRAMS for pf in holders)
    promiscuous = fact.value["promiscuous"]
    if dhcp and promiscuous is False:
        return INFO, ("A DHCP program's packet socket: DHCP talks to hosts that have no address "
                      "yet, in whole frames.")
    if promiscuous and not dhcp:
        return ALERT, ("A program that is no DHCP client holds an interface in promiscuous mode: "
                       "it captures every frame on the link, a sniffer.")
    return WARNING, sign.why


def _raw_rule(sign: Sign, fact: Fact, holders: list[ProcessFacts]) -> tuple[str, str]:
    protocol = fact.value["protocol"]
    if all(protocol in RAW_PROGRAMS.get(_program(pf), ()) for pf in holders):
        return INFO, f"A raw socket for the protocol its program's trade needs ({_program(holders[0])})."
    return WARNING, sign.why


def judge_packet(evidence: Evidence, sign: Sign) -> list[Finding]:
    return _held(evidence, sign, evidence.packet_sockets, _packet_rule)


def judge_raw(evidence: Evidence, sign: Sign) -> list[Finding]:
    return _held(evidence, sign, evidence.raw_sockets, _raw_rule)


def _capturer_facts(evidence: Evidence, interface: str) -> list[Fact]:
    """The packet sockets (and their holders) that hold ``interface`` promiscuous."""
    facts = []
    for fact, pids in evidence.packet_sockets:
        if interface in (fact.value["promiscuous_on"] or ()):
            names = ", ".join(f"{pf.pid} {pf.fact('name') or '?'}"
                              for pf in _holders(evidence, pids)) or "no visible process"
            facts.append(Fact("held promiscuous by", f"packet socket inode "
                              f"{fact.value['inode']} of {names}", fact.source))
    return facts


SIGNS = (
    Sign("deleted-executable", "alert; info when another file now has its path",
         "It runs a file deleted since it started, a way to leave no program on disk.",
         judge_exe_gone),
    Sign("memory-executable", "alert",
         "It runs from memory (memfd), with no file on any disk: fileless malware's trick.",
         judge_memfd),
    Sign("writable-place", "alert in a world-writable directory; warning in a listed "
         "temporary place or user cache",
         "Its executable lies where anyone, or any program of its user, may drop files.",
         judge_place),
    Sign("shell-on-socket", "alert",
         "A shell or interpreter whose standard streams are a network socket gives a remote "
         "user a command line: a reverse or bind shell.", judge_shell),
    Sign("lying-name", "alert",
         "It calls itself like a kernel thread or a well-known daemon, yet runs another "
         "executable.", judge_name),
    Sign("open-listener", "warning; info when the owner could not be read",
         "It listens on every address, held by an ordinary user or from an executable its "
         "user can change.", judge_open_listener),
    # Not an alert: kernel users (NFS, SMB, WireGuard, VXLAN) and sockets in flight over a
    # UNIX socket hold sockets without a process too.
    Sign("unowned-socket", "warning when every process's fds were read; info when some could "
         "not be",
         "A socket no visible process holds, although every fd was read, may be a hidden "
         "process's.", judge_unowned),
    Sign("views-disagree", "alert",
         "The kernel's two lists of sockets disagree, twice: someone hides lines from one.",
         judge_views),
    Sign("preload", "warning",
         "A preloaded library runs inside the process before its own code, and can hide or "
         "change what it does.", judge_preload),
    Sign("promiscuous-interface", "warning; info for a port its bridge or bond made so",
         "An interface in promiscuous mode receives every frame on its link: someone may be "
         "capturing traffic.", judge_promiscuous),
    Sign("packet-socket", "info for a DHCP program's socket that is not promiscuous; alert for "
         "another program's promiscuous one; warning otherwise",
         "A program receives whole link-layer frames (a packet socket), below every firewall "
         "rule.", judge_packet),
    Sign("raw-socket", "info when its program's trade needs that protocol (ping, router "
         "discovery, VRRP, OSPF); warning otherwise",
         "A program receives every packet of an IP protocol (a raw socket), whatever port it "
         "is for.", judge_raw),
)


def judge(evidence: Evidence, signs: Sequence[Sign] = SIGNS) -> list[Finding]:
    """Every finding, most serious first, in the order of the sign table within a severity."""
    found = [f for sign in signs for f in sign.judge(evidence, sign)]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(found, key=lambda f: rank[f.severity])


def exit_status(findings: list[Finding]) -> int:
    """``Audit.ALERTS`` (3), ``Audit.WARNINGS`` (4), or 0 when only info or nothing was found."""
    severities = {f.severity for f in findings}
    if ALERT in severities:
        return Audit.ALERTS
    if WARNING in severities:
        return Audit.WARNINGS
    return 0
