"""CSV rows written a batch at a time (render/csvout.ConnectionRows.text) are, byte for byte,
what the csv module writes of ``connection_record``'s values through ``csvout.cell``
(``ConnectionRows.reference``, the definition of a row): the template of plain batches is only a
faster way to write the same text.

Batches come from tests/test_json_batches.py's strategy (plain ones, link-local scopes, /proc's
missing cookie; owners with quotes, commas, control characters and non-ASCII in their names),
with and without the interval lead (a host name with a comma, a quote and a ``%``).
"""

from __future__ import annotations

import csv
import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from pynetstat.render.csvout import ConnectionRows, cell
from pynetstat.render.jsonout import connection_record
from test_json_batches import IFNAMES, batch, peers_of

LEADS = [(), (1796170000.25, 3, "vm"), (1.5, 1, 'h,"o%st', None, None), (2.0, 2, "%d%s", None)]


def written_by_csv(drawn_batch, with_owners: bool, lead: tuple) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for (sock, owners), peer in zip(drawn_batch.rows(), peers_of(drawn_batch, with_owners)):
        record = connection_record(sock, owners if with_owners else None, None,
                                   IFNAMES.__getitem__, None, None, peer)
        writer.writerow((*lead, *map(cell, record.values())))
    return out.getvalue()


@settings(max_examples=examples(150), deadline=None)
@given(batch(), st.sampled_from(LEADS))
def test_batch_text_is_what_the_csv_module_writes(drawn, lead):
    built, with_owners = drawn
    rows = ConnectionRows(with_owners, None, IFNAMES.__getitem__, None, lead)
    assert rows.text(built) == written_by_csv(built, with_owners, lead)
    # twice: the second time from the caches and the kind's template
    assert rows.text(built) == written_by_csv(built, with_owners, lead)


@settings(max_examples=examples(40), deadline=None)
@given(batch())
def test_rows_read_back_are_the_json_values(drawn):
    built, with_owners = drawn
    text = ConnectionRows(with_owners, None, IFNAMES.__getitem__, None).text(built)
    assert all(line.isprintable() for line in text.split("\r\n"))
    for row, (sock, owners) in zip(csv.reader(io.StringIO(text, newline="")), built.rows()):
        record = connection_record(sock, owners if with_owners else None, None,
                                   IFNAMES.__getitem__, None)
        assert len(row) == len(record)
        assert json.loads(row[17]) == record["owners"] if row[17] else record["owners"] is None
