"""Hand-built entity-group transactions against Azurite: atomic, typed, conflict-aware."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from jobclusters.tracking.table_batch import TransactionConflict, submit_transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def table(storage_connection: str):
    service = TableServiceClient.from_connection_string(storage_connection)
    return service.create_table(f"batch{uuid.uuid4().hex[:12]}")


def test_a_transaction_creates_typed_rows_with_awkward_keys(table):
    moment = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    rows = [
        {
            "PartitionKey": "run'1",
            "RowKey": f"task|it's %{i}",
            "N": i,
            "F": 0.5,
            "At": moment,
            "Ok": True,
            "Text": "é",
        }
        for i in range(100)
    ]
    submit_transaction(table, [("create", row, {}) for row in rows])
    stored = sorted(table.query_entities("PartitionKey eq 'run''1'"), key=lambda e: e["N"])
    assert len(stored) == 100
    first = stored[0]
    assert (first["RowKey"], first["N"]) == ("task|it's %0", 0)
    assert (first["F"], first["At"], first["Ok"], first["Text"]) == (0.5, moment, True, "é")


def test_a_conflicting_row_fails_the_whole_transaction(table):
    submit_transaction(table, [("create", {"PartitionKey": "p", "RowKey": "b", "V": 1}, {})])
    with pytest.raises(TransactionConflict):
        submit_transaction(
            table,
            [
                ("create", {"PartitionKey": "p", "RowKey": "a", "V": 1}, {}),
                ("create", {"PartitionKey": "p", "RowKey": "b", "V": 2}, {}),
            ],
        )
    assert [e["RowKey"] for e in table.query_entities("PartitionKey eq 'p'")] == ["b"], "nothing was applied"


def test_replace_is_guarded_by_the_etag(table):
    submit_transaction(table, [("create", {"PartitionKey": "p", "RowKey": "r", "State": "RUNNING"}, {})])
    etag = table.get_entity("p", "r").metadata["etag"]
    submit_transaction(
        table, [("replace", {"PartitionKey": "p", "RowKey": "r", "State": "SUCCESS"}, {"etag": etag})]
    )
    with pytest.raises(TransactionConflict):
        submit_transaction(
            table, [("replace", {"PartitionKey": "p", "RowKey": "r", "State": "RUNNING"}, {"etag": etag})]
        )
    assert table.get_entity("p", "r")["State"] == "SUCCESS"
