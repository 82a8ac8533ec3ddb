"""The kind table (kinds.py) and the field table (model/fields.py) are what the code is made from:
records, batches, the JSON row and its documentation, the collectors' decoders and parsers.
And the per-message path of the sock_diag decoder reads the attributes of a real dump."""

from __future__ import annotations

import os
import socket
import struct

import pytest

from pynetstat import kinds
from pynetstat.linux import sockets as collector
from pynetstat.linux.netlink import DumpStats, LiveNetlink
from pynetstat.linux.sockdiag import INET_DIAG_INFO, decode_batches, request_for
from pynetstat.model import fields
from pynetstat.model.sockets import BATCHES, RECORDS, InetSocket, SocketBatch
from pynetstat.render.jsonout import connection_record
from test_json_schema import documented_fields


def _socket(**changes) -> InetSocket:
    values = dict(proto="tcp", family=4, state=1, local_address="127.0.0.1", local_port=5432,
                  remote_address="127.0.0.1", remote_port=50312, scope=0, inode=363779, uid=70,
                  cookie=40963, recv_q=0, send_q=0)
    values.update(changes)
    return InetSocket(**values)


def test_the_json_document_lists_exactly_the_fields_of_the_table():
    documented = documented_fields("### A connection")
    assert list(documented.items()) == list(fields.CONNECTION_JSON)


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_a_json_row_has_the_fields_of_the_table_in_order(proto):
    record = connection_record(_socket(proto=proto), None, None, str, None)
    assert list(record) == [name for name, _type in fields.CONNECTION_JSON]


def test_records_and_batches_take_keywords_only_and_have_the_tables_slots():
    assert InetSocket.__slots__ == fields.record_slots("inet")
    assert set(SocketBatch.COLUMNS) | set(SocketBatch.CONSTANTS) == set(InetSocket.__slots__)
    with pytest.raises(TypeError):
        InetSocket("tcp", 4, 1, "127.0.0.1", 1, "127.0.0.1", 2, 0, 1, 0, 1, 0, 0)
    with pytest.raises(TypeError):
        _socket(rtt=1)  # a field the table does not have


def test_a_batch_gives_back_its_records():
    socks = [_socket(local_port=1000 + i, inode=i, cookie=None if i % 2 else i) for i in range(5)]
    batch = SocketBatch.from_sockets("tcp", 4, socks)
    assert list(batch.sockets()) == socks
    assert [batch.socket_at(i) for i in range(5)] == socks
    assert list(batch.take([4, 1]).sockets()) == [socks[4], socks[1]]
    assert [owners for _s, owners in batch.rows()] == [()] * 5


def test_every_kind_has_a_record_a_decoder_and_a_parser():
    for kind in kinds.KINDS:
        # "": no kernel has a sock_diag handler for the kind (ping sockets): /proc only
        assert kind.decoder in collector.DECODERS or kind.decoder == "", kind
        assert (kind.decoder == "") == (kind.name in ("icmp", "icmp6")), kind
        # "": no /proc file lists the kind (MPTCP, SCTP, VSOCK): sock_diag is its only source
        assert kind.proc_parser in collector.PARSERS or kind.proc_parser == "", kind
        assert (kind.proc_file == "") == (kind.proc_parser == "") == (
            kind.name in ("mptcp", "mptcp6", "sctp", "sctp6", "vsock")), kind
        assert kind.record is RECORDS[kind.shape] and kind.shape in fields.ENDPOINTS
        assert kind.batch is BATCHES[kind.shape] and kind.shape == kind.batch.SHAPE
        assert kind.record.__slots__ == fields.record_slots(kind.shape)
        assert kinds.BY_OPTION[kind.option] is kind
        assert kind.spec == (kind.name in ("tcp", "tcp6", "udp", "udp6"))
    assert kinds.CONNECTION_PROTOCOLS == ("TCP", "UDP", "TCPv6", "UDPv6", "UNIX", "RAW", "RAWv6",
                                          "ICMP", "ICMPv6", "PACKET", "MPTCP", "MPTCPv6", "SCTP",
                                          "SCTPv6", "VSOCK", "all")
    # UDP is listed only with -a; -p picks kinds; without -p the spec's kinds alone
    assert [k.name for k, _ in kinds.selection(None, False)] == ["tcp", "tcp6"]
    assert [k.name for k, _ in kinds.selection(None, True)] == ["tcp", "tcp6", "udp", "udp6"]
    assert [k.name for k, _ in kinds.selection(("UDPv6",), True)] == ["udp6"]
    assert kinds.selection(("UDPv6",), False) == []
    # several, in table order, each once; a UNIX socket is listed without -a when connected
    assert [k.name for k, _ in kinds.selection(("UNIX", "TCP", "UNIX"), False)] == ["tcp", "unix"]
    assert [k.name for k, _ in kinds.selection(("all",), True)] == [k.name for k in kinds.KINDS]
    assert [k.name for k, _ in kinds.selection(("all",), False)] == [
        "tcp", "tcp6", "unix", "mptcp", "mptcp6", "sctp", "sctp6", "vsock"]


def test_the_help_lists_the_kinds():
    from pynetstat.cli import help_text

    assert kinds.option_text() == ("TCP, UDP, TCPv6, UDPv6, UNIX, RAW, RAWv6, ICMP, ICMPv6, "
                                   "PACKET, MPTCP, MPTCPv6, SCTP, SCTPv6, VSOCK or all")
    assert f"Shows connections for proto: {kinds.option_text()} (every kind)" in " ".join(help_text().split())


def test_extension_groups_are_declared():
    from pynetstat.linux.diagext import GROUP_BITS
    from pynetstat.options import Options

    assert set(fields.EXTENSIONS) == {"tcp_info", "memory", "timer", "tos", "times"} == set(GROUP_BITS)
    every = Options(info=True, timers=True, memory=True, dscp=True, times=True).extension_groups
    assert set(every) == set(fields.EXTENSIONS)
    assert set(every) <= set(fields.EXTENSIONS) and Options().extension_groups == ()
    # each group that is an object of the JSON row is a row of CONNECTION_JSON
    json_names = {name for name, _type in fields.CONNECTION_JSON}
    assert {f.name for group in every for f in fields.EXTENSIONS[group]} <= json_names


def test_the_per_message_path_reads_tcp_info_from_a_real_dump():
    """Ask the kernel for INET_DIAG_INFO: each message then carries a struct tcp_info, whose first
    byte (tcpi_state) is the socket's state (include/uapi/linux/tcp.h)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    try:
        inodes = {os.fstat(s.fileno()).st_ino for s in (listener, client, server)}
        request = request_for(kinds.BY_NAME["tcp"], kinds.ALL_STATES, 1 << (INET_DIAG_INFO - 1))
        stats = DumpStats()
        mine = []
        for batch in decode_batches(LiveNetlink().dump(request), "tcp", 4, stats,
                                    attributes=True):
            assert batch.attributes is not None and len(batch.attributes) == len(batch)
            mine += [(sock, attrs) for sock, attrs in zip(batch.sockets(), batch.attributes)
                     if sock.inode in inodes]
        assert len(mine) == 3 and stats.malformed == 0
        for sock, attrs in mine:
            info = attrs[INET_DIAG_INFO]
            assert len(info) >= 8
            assert info[0] == sock.state  # tcpi_state
        # a plain listing does not walk attributes
        plain = decode_batches(LiveNetlink().dump(request), "tcp", 4, DumpStats())
        assert all(batch.attributes is None for batch in plain)
    finally:
        for s in (client, server, listener):
            s.close()


def test_attributes_survive_take():
    batch = SocketBatch.from_sockets("tcp", 4, [_socket(inode=i) for i in range(3)])
    batch.attributes = ({1: b"a"}, {}, {2: struct.pack("=I", 7)})
    assert batch.take([2, 0]).attributes == ({2: struct.pack("=I", 7)}, {1: b"a"})


@pytest.mark.parametrize("shape,heading", [("unix", "### A UNIX socket"),
                                           ("raw", "### A RAW or ICMP socket"),
                                           ("packet", "### A packet socket")])
def test_docs_list_the_other_kinds_rows_in_order(shape, heading):
    """docs/json.md's tables are the rows of the other kinds: the shared fields, then the shape's."""
    shared = list(documented_fields("### The other kinds").items())
    own = list(documented_fields(heading).items())
    assert shared == list(fields.COMMON_JSON)
    assert shared + own == list(fields.SHAPE_JSON[shape])
