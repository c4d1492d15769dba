from __future__ import annotations

from typing import Any

import pytest

from jobclusters.services.storage import is_app_container
from triggers.blob_events import InvalidBlobEvent, arrived_blob, blob_subject, parse_subject

URL = "http://127.0.0.1:10000/devstoreaccount1/landing/sales/2024/day%201.csv"


def data(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "api": "PutBlob",
        "eTag": '"0x8D4BCC2E4835CD0"',
        "contentType": "text/csv",
        "contentLength": 524288,
        "blobType": "BlockBlob",
        "url": URL,
        "sequencer": "00000000000004420000000000028963",
        "storageDiagnostics": {"batchId": "b68529f3-68cd-4744-baa4-3c0498ec19f0"},
    }
    return {**base, **overrides}


def test_a_blob_created_event_names_the_blob_its_url_and_the_unquoted_etag() -> None:
    arrived = arrived_blob(
        "Microsoft.Storage.BlobCreated",
        "/blobServices/default/containers/landing/blobs/sales/2024/day 1.csv",
        data(),
    )
    assert arrived is not None
    assert (arrived.container, arrived.name, arrived.path) == (
        "landing",
        "sales/2024/day 1.csv",
        "landing/sales/2024/day 1.csv",
    )
    assert (arrived.url, arrived.etag, arrived.size) == (URL, "0x8D4BCC2E4835CD0", 524288)
    assert arrived.run_parameters()["blob_folder"] == "landing/sales/2024"


@pytest.mark.parametrize(
    "event_type",
    [
        "Microsoft.Storage.BlobDeleted",
        "Microsoft.Storage.BlobTierChanged",
        "Microsoft.Storage.BlobRenamed",
        "microsoft.storage.blobcreated.extra",
    ],
)
def test_other_event_types_are_ignored(event_type: str) -> None:
    assert arrived_blob(event_type, blob_subject("landing", "a.csv"), data()) is None


def test_a_blob_event_without_url_or_etag_or_with_a_foreign_subject_is_invalid() -> None:
    with pytest.raises(InvalidBlobEvent, match=r"\$\.data\.eTag"):
        arrived_blob("Microsoft.Storage.BlobCreated", blob_subject("c", "a"), {"url": URL})
    with pytest.raises(InvalidBlobEvent, match=r"\$\.data\.url"):
        arrived_blob("Microsoft.Storage.BlobCreated", blob_subject("c", "a"), {"eTag": "x"})
    with pytest.raises(InvalidBlobEvent, match="is not /blobServices"):
        arrived_blob("Microsoft.Storage.BlobCreated", "/fileServices/default/shares/s/files/a", data())
    with pytest.raises(InvalidBlobEvent, match="is not /blobServices"):
        parse_subject("/blobServices/default/containers/onlycontainer")


def test_subject_round_trips_names_with_slashes() -> None:
    assert parse_subject(blob_subject("in", "a/b/c.txt")) == ("in", "a/b/c.txt")


@pytest.mark.parametrize(
    ("container", "own"),
    [
        ("jobclusters-batch-logs", True),
        ("jobclusters-files-0123abcd", True),
        ("jobclusters-definitions", True),
        ("acme-definitions", True),
        ("incoming", False),
        ("landing-jobclusters-x", False),
    ],
)
def test_the_apps_own_containers_are_told_apart_from_users(container: str, own: bool) -> None:
    assert is_app_container(container, table_prefix="acme") is own
