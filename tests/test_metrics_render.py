"""render/metrics.py on batches built here: the caps fold what is past them into ``other`` and
say how many were folded; what is under them is left alone; every label is textsafe's."""

from __future__ import annotations

from pynetstat.model.sockets import InetSocket, Owner, SocketBatch
from pynetstat.render.metrics import CAPS, SocketTally, folded_family, socket_families


def _sock(state: int, port: int, remote_port: int = 0, recv_q: int = 0) -> InetSocket:
    return InetSocket(proto="tcp", family=4, state=state, inode=1000 + port, uid=0, cookie=None,
                      recv_q=recv_q, send_q=0, local_address="127.0.0.1", local_port=port,
                      remote_address="127.0.0.1", remote_port=remote_port, scope=0)


def _families(names: list[str]) -> dict:
    """Process ``names[i]`` holds ``i + 1`` established sockets with 10 queued bytes each, and
    one listener on port 20000 + i."""
    sockets, owners = [], []
    for i, name in enumerate(names):
        owner = (Owner(100 + i, name),)
        for j in range(i + 1):
            sockets.append(_sock(1, 30000 + j, 443, recv_q=10))
            owners.append(owner)
        sockets.append(_sock(10, 20000 + i))
        owners.append(owner)
    batch = SocketBatch.from_sockets("tcp", 4, sockets)
    batch.owners = tuple(owners)
    tally = SocketTally()
    tally.add(batch)
    folded = folded_family()
    out = {family.name: family.samples for family in socket_families(tally, folded)}
    out["folded"] = folded.samples
    return out


def test_process_names_past_the_cap_are_summed_into_other():
    names = [f"p{i}" for i in range(CAPS["process"] + 5)]
    out = _families(names)
    # the 5 names with the fewest sockets (p0..p4: 1..5 established, 1 listener each) fold
    assert out["folded"] == {("process",): 5}
    per_process = out["pynetstat_process_sockets"]
    assert per_process[("other", "tcp", "ipv4", "ESTABLISHED")] == 1 + 2 + 3 + 4 + 5
    assert per_process[("other", "tcp", "ipv4", "LISTEN")] == 5
    assert per_process[("p5", "tcp", "ipv4", "ESTABLISHED")] == 6
    assert not any(labels[0] in names[:5] for labels in per_process)
    assert len({labels[0] for labels in per_process}) == CAPS["process"] + 1
    assert out["pynetstat_process_receive_queue_bytes"][("other",)] == 10 * 15
    assert out["pynetstat_process_receive_queue_bytes"][("p5",)] == 60
    # listeners: under their cap, one series each, value 1
    assert len(out["pynetstat_listeners"]) == len(names)
    assert set(out["pynetstat_listeners"].values()) == {1}
    # the totals are not capped
    assert out["pynetstat_sockets"] == {("tcp", "ipv4", "ESTABLISHED"): sum(range(1, 106)),
                                        ("tcp", "ipv4", "LISTEN"): 105}


def test_under_the_cap_nothing_is_folded_and_names_are_escaped():
    out = _families(["nginx", "evil\n\udcff"])
    assert out["folded"] == {}
    assert {labels[0] for labels in out["pynetstat_process_sockets"]} == {"nginx", "evil\\n\\xff"}


def test_namespaces_past_their_cap_share_netns_other_and_keep_their_own_folds():
    from pynetstat.model.netns import NetNamespace
    from pynetstat.model.stats import CountersSnapshot, ProtocolCounters
    from pynetstat.render.metrics import counter_families, netns_families, netns_labels

    # the host, then CAPS["netns"] + 1 namespaces named by `ip netns`, each with one listener of
    # a process "srv"; the last two are past the cap
    spaces = [NetNamespace(1, host=True)] + [
        NetNamespace(100 + i, netns_name=f"ns{i}") for i in range(CAPS["netns"] + 1)]
    folded = folded_family()
    labels = netns_labels(spaces, folded)
    assert folded.samples == {("netns",): 2}
    assert labels[1] == "host" and labels[100] == "ns0"
    assert labels[100 + CAPS["netns"] - 1] == labels[100 + CAPS["netns"]] == "other"
    tally = SocketTally(netns=labels)
    for ns in spaces:
        batch = SocketBatch.from_sockets("tcp", 4, [_sock(10, 80)])
        batch.owners = ((Owner(7, "srv"),),)
        batch.netns = ns
        tally.add(batch)
    out = {family.name: family.samples for family in socket_families(tally, folded)}
    assert out["pynetstat_sockets"][("host", "tcp", "ipv4", "LISTEN")] == 1
    assert out["pynetstat_sockets"][("other", "tcp", "ipv4", "LISTEN")] == 2
    assert len(out["pynetstat_sockets"]) == CAPS["netns"] + 1
    assert out["pynetstat_process_sockets"][("ns0", "srv", "tcp", "ipv4", "LISTEN")] == 1
    assert out["pynetstat_listeners"][("other", "tcp", "ipv4", "127.0.0.1", "80", "srv", "",
                                       "")] == 2
    # 101 (namespace, process) pairs past the process cap of 100: the smallest folds into its
    # own namespace's process="other", the netns label stays
    assert folded.samples[("process",)] == 1
    assert sum(1 for key in out["pynetstat_process_sockets"] if key[1] == "other") == 1
    assert {key[0] for key in out["pynetstat_process_sockets"]} == set(labels.values())
    # -s per namespace: the folded namespaces' counters are summed
    snapshot = CountersSnapshot(ProtocolCounters({"Tcp": {"ActiveOpens": 5}}, [], []))
    counters = counter_families([(labels[ns.inode], snapshot) for ns in spaces])[0].samples
    assert counters[("ns0", "Tcp", "ActiveOpens")] == 5
    assert counters[("other", "Tcp", "ActiveOpens")] == 10
    info = netns_families(labels, spaces, [(NetNamespace(9, netns_name="x"), "it vanished")] * 2,
                          3)
    assert {f.name: f.samples for f in info} == {
        "pynetstat_netns_info": {(labels[ns.inode], str(ns.inode)): 1 for ns in spaces
                                 if labels[ns.inode] != "other"},
        "pynetstat_netns_unread": {("it vanished",): 2},
        "pynetstat_netns_unseen_processes": {(): 3}}
