from __future__ import annotations

import pytest

from jobclusters.spec.model import FileArrivalTrigger, StorageEventTrigger, Trigger
from triggers.blob_rules import ArrivedBlob, file_arrival_location, matching_rule, rule_matches


def blob(path: str, size: int = 10) -> ArrivedBlob:
    return ArrivedBlob.from_path(
        path, size=size, url=f"http://127.0.0.1:10000/devstoreaccount1/{path}", etag='"0x1"'
    )


def test_prefix_and_suffix_both_have_to_hold() -> None:
    rule = StorageEventTrigger(container="incoming", prefix="daily-sales/", suffix="_SUCCESS")
    assert rule_matches(rule, blob("incoming/daily-sales/2024-01-01/_SUCCESS"))
    assert not rule_matches(rule, blob("incoming/daily-sales/2024-01-01/part.csv"))
    assert not rule_matches(rule, blob("incoming/other/_SUCCESS"))
    assert not rule_matches(rule, blob("archive/daily-sales/_SUCCESS"))


def test_adf_style_prefix_names_the_container() -> None:
    rule = StorageEventTrigger(prefix="/incoming/blobs/sales/")
    assert rule_matches(rule, blob("incoming/sales/a.csv"))
    assert not rule_matches(rule, blob("landing/sales/a.csv"))


def test_empty_blobs_are_ignored_unless_the_rule_says_otherwise() -> None:
    assert not rule_matches(StorageEventTrigger(suffix=".csv"), blob("incoming/a.csv", size=0))
    keep_empty = StorageEventTrigger(suffix=".csv", ignore_empty_blobs=False)
    assert rule_matches(keep_empty, blob("incoming/a.csv", 0))


def test_glob_matches_inside_the_container() -> None:
    rule = StorageEventTrigger(glob="sales/*/day-??.csv")
    assert rule_matches(rule, blob("incoming/sales/2024/day-01.csv"))
    assert not rule_matches(rule, blob("incoming/sales/2024/day-001.csv"))


def test_rule_for_deleted_blobs_only_never_starts_on_upload() -> None:
    rule = StorageEventTrigger(events=["Microsoft.Storage.BlobDeleted"])
    assert not rule_matches(rule, blob("incoming/a.csv"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("abfss://incoming@acct.dfs.core.windows.net/sales/", ("incoming", "sales/")),
        ("wasbs://incoming@acct.blob.core.windows.net/sales", ("incoming", "sales")),
        ("https://acct.blob.core.windows.net/incoming/sales/", ("incoming", "sales/")),
        ("http://127.0.0.1:10000/devstoreaccount1/incoming/sales/", ("incoming", "sales/")),
        ("incoming/sales/", ("incoming", "sales/")),
    ],
)
def test_file_arrival_locations_in_every_url_form(url: str, expected: tuple[str, str]) -> None:
    assert file_arrival_location(url) == expected


def test_paused_file_arrival_rule_does_not_start_runs() -> None:
    rule = FileArrivalTrigger(url="incoming/sales/", pause_status="PAUSED")
    assert not rule_matches(rule, blob("incoming/sales/a.csv"))
    assert rule_matches(rule.model_copy(update={"pause_status": "UNPAUSED"}), blob("incoming/sales/a.csv"))


def test_first_matching_rule_is_reported() -> None:
    rules: list[Trigger] = [StorageEventTrigger(suffix=".json"), FileArrivalTrigger(url="incoming/sales/")]
    assert matching_rule(rules, blob("incoming/sales/a.csv")) == 1
    assert matching_rule(rules, blob("incoming/x.txt")) is None


def test_run_parameters_name_the_file_and_its_folder() -> None:
    params = blob("incoming/daily-sales/2024-01-01/_SUCCESS").run_parameters()
    assert params["blob_path"] == "incoming/daily-sales/2024-01-01/_SUCCESS"
    assert params["blob_name"] == "_SUCCESS"
    assert params["blob_folder"] == "incoming/daily-sales/2024-01-01"
    assert params["blob_dir"] == "daily-sales/2024-01-01"
    assert blob("incoming/top.csv").run_parameters()["blob_folder"] == "incoming"
