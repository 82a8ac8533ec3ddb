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
