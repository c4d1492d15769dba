from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

pytestmark = pytest.mark.integration


def test_azurite_serves_blob_and_table_sdks(storage_connection: str) -> None:
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    container = blobs.get_container_client("smoke")
    container.create_container()
    container.upload_blob("a.txt", b"hello")
    assert container.download_blob("a.txt").readall() == b"hello"

    tables = TableServiceClient.from_connection_string(storage_connection)
    table = tables.create_table_if_not_exists("smoke")
    table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    assert table.get_entity("p", "r")["v"] == 1
