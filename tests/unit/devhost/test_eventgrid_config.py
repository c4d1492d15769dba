from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.storage.blob import BlobProperties, BlobType, ContentSettings

from devhost.triggers.eventgrid import blob_created_event, retry_delay
from devhost.triggers.eventgrid_config import (
    EventGridConfigError,
    SubscriptionFilter,
    blob_subject,
    load_eventgrid_config,
)
from triggers.blob_events import arrived_blob

CREATED = "Microsoft.Storage.BlobCreated"


def test_subject_filters_compare_without_case_unless_told() -> None:
    rule = SubscriptionFilter(
        subjectBeginsWith="/blobServices/default/containers/landing/blobs/Sales/", subjectEndsWith=".csv"
    )
    assert rule.matches(CREATED, blob_subject("landing", "sales/a.CSV"))
    assert not rule.matches(CREATED, blob_subject("landing", "sales/a.txt"))
    assert not rule.matches(CREATED, blob_subject("landing2", "sales/a.csv"))
    strict = rule.model_copy(update={"isSubjectCaseSensitive": True})
    assert not strict.matches(CREATED, blob_subject("landing", "sales/a.csv"))
    assert strict.matches(CREATED, blob_subject("landing", "Sales/a.csv"))


def test_included_event_types_default_to_all() -> None:
    assert SubscriptionFilter().matches("Microsoft.Storage.BlobDeleted", blob_subject("c", "a"))
    only_created = SubscriptionFilter(includedEventTypes=[CREATED])
    assert only_created.matches(CREATED, blob_subject("c", "a"))
    assert not only_created.matches("Microsoft.Storage.BlobDeleted", blob_subject("c", "a"))


def test_which_containers_a_subject_prefix_can_reach() -> None:
    one = SubscriptionFilter(subjectBeginsWith="/blobServices/default/containers/land/blobs/x")
    assert one.may_match_container("land") and not one.may_match_container("landing")
    family = SubscriptionFilter(subjectBeginsWith="/blobServices/default/containers/land")
    assert family.may_match_container("land") and family.may_match_container("landing")
    assert not family.may_match_container("other")
    assert SubscriptionFilter().may_match_container("anything")


def test_config_errors_name_the_json_path(tmp_path: Path) -> None:
    path = tmp_path / "eventgrid.config.json"
    path.write_text(
        json.dumps({"subscriptions": [{"name": "s", "function": "f", "filter": {"subjectBegins": "/"}}]})
    )
    with pytest.raises(EventGridConfigError, match=r"\$\.subscriptions\.0\.filter\.subjectBegins"):
        load_eventgrid_config(path)
    path.write_text(json.dumps({"subscriptions": [{"name": "s", "function": "f"}]}))
    [sub] = load_eventgrid_config(path).for_function("f")
    assert sub.source == "AzureWebJobsStorage" and sub.retryPolicy.maxDeliveryAttempts == 30


def test_the_event_devhost_builds_is_what_the_app_parses() -> None:
    props = BlobProperties()
    props.name, props.etag, props.size = "day/1.csv", '"0x8DABC"', 12
    props.blob_type = BlobType.BLOCKBLOB
    props.content_settings = ContentSettings(content_type="text/csv")
    props.last_modified = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    url = "http://127.0.0.1:10000/devstoreaccount1/landing/day/1.csv"
    event = blob_created_event("devstoreaccount1", "landing", props, url)
    again = blob_created_event("devstoreaccount1", "landing", props, url)
    assert event.id == again.id  # a redelivery carries the same id
    assert event.subject == "/blobServices/default/containers/landing/blobs/day/1.csv"
    assert event.event_time == props.last_modified
    assert event.get_json()["eTag"] == '"0x8DABC"' and event.get_json()["blobType"] == "BlockBlob"
    arrived = arrived_blob(event.event_type, event.subject, event.get_json())
    assert arrived is not None and (arrived.path, arrived.etag, arrived.size, arrived.url) == (
        "landing/day/1.csv",
        "0x8DABC",
        12,
        url,
    )


def test_retries_back_off_exponentially_up_to_a_minute() -> None:
    assert [retry_delay({}, n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert retry_delay({"DEVHOST_EVENTGRID_RETRY_MS": "20"}, 2) == 0.04
    assert retry_delay({}, 30) == 60.0
