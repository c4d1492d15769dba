"""WebActivity / GetMetadata / Lookup: their import from ADF JSON, datasets from a git layout, and the
outputs ADF gives them (against an in-memory blob reader and a scripted HTTP call)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobclusters.execution.data_activities import (
    DataActivityError,
    get_metadata,
    header_values,
    lookup,
    parse_rows,
    run_data_activity,
    web_output,
)
from jobclusters.services.blob_datasets import BlobItem
from jobclusters.services.web_call import WebAnswer, WebCallError
from jobclusters.spec import load_definition
from jobclusters.spec.importers.adf_resources import BlobDataset, DatasetError, blob_dataset
from jobclusters.spec.model import DatasetRef, GetMetadataPayload, LookupPayload, Task, TaskState, WebPayload

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Blobs:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files  # "container/name" -> text

    def file(self, container: str, name: str) -> BlobItem | None:
        text = self.files.get(f"{container}/{name}")
        return None if text is None else BlobItem(name.rsplit("/", 1)[-1], "File", len(text), T0)

    def children(self, container: str, prefix: str) -> list[BlobItem]:
        start = f"{container}/{prefix.strip('/')}/" if prefix.strip("/") else f"{container}/"
        found: dict[str, BlobItem] = {}
        for key, text in self.files.items():
            if key.startswith(start):
                first, _, rest = key[len(start) :].partition("/")
                found[first] = BlobItem(first, "Folder") if rest else BlobItem(first, "File", len(text), T0)
        return sorted(found.values(), key=lambda c: c.name)

    def files_under(self, container: str, prefix: str) -> list[str]:
        start = f"{container}/{prefix.strip('/')}/"
        return sorted(k[len(container) + 1 :] for k in self.files if k.startswith(start))

    def read_text(self, container: str, name: str) -> str:
        return self.files[f"{container}/{name}"]


def _ds(fmt: str = "delimited", folder: str = "in", file: str | None = None, **kw: Any) -> BlobDataset:
    return BlobDataset(name="d", container="c", folder=folder, file=file, format=fmt, **kw)  # type: ignore[arg-type]


def test_adf_data_activities_import_as_their_payloads() -> None:
    doc = {
        "name": "p",
        "properties": {
            "activities": [
                {
                    "name": "web",
                    "type": "WebActivity",
                    "typeProperties": {
                        "url": {
                            "value": "@concat('https://x/', pipeline().parameters.d)",
                            "type": "Expression",
                        },
                        "method": "post",
                        "headers": {"x-key": "%API_KEY%"},
                        "body": {"a": 1},
                        "httpRequestTimeout": "00:00:30",
                    },
                },
                {
                    "name": "meta",
                    "type": "GetMetadata",
                    "typeProperties": {
                        "dataset": {
                            "referenceName": "folder",
                            "type": "DatasetReference",
                            "parameters": {"p": "x"},
                        },
                        "fieldList": ["childItems", "exists"],
                    },
                },
                {
                    "name": "look",
                    "type": "Lookup",
                    "typeProperties": {
                        "source": {"type": "JsonSource"},
                        "dataset": {"referenceName": "cfg", "type": "DatasetReference"},
                        "firstRowOnly": False,
                    },
                },
            ],
            "parameters": {"d": {"type": "string"}},
        },
    }
    result = load_definition(doc, format="adf", required_tags=())
    assert result.ok, result.errors
    assert result.job is not None
    web, meta, look = (t.payload for t in result.job.tasks)
    assert web == WebPayload(
        url="@concat('https://x/', pipeline().parameters.d)",
        method="POST",
        headers={"x-key": "%API_KEY%"},
        body={"a": 1},
        timeout_seconds=30,
    )
    assert meta == GetMetadataPayload(
        dataset=DatasetRef(name="folder", parameters={"p": "x"}), field_list=["childItems", "exists"]
    )
    assert look == LookupPayload(dataset=DatasetRef(name="cfg"), first_row_only=False)


def test_a_field_getmetadata_does_not_know_is_a_validation_error_at_its_path() -> None:
    doc = {
        "name": "p",
        "properties": {
            "activities": [
                {
                    "name": "meta",
                    "type": "GetMetadata",
                    "typeProperties": {"dataset": {"referenceName": "d"}, "fieldList": ["exists", "owner"]},
                }
            ]
        },
    }
    result = load_definition(doc, format="adf", required_tags=())
    assert [p.path for p in result.errors] == ["$.properties.activities[0].typeProperties.fieldList[1]"]


def test_a_dataset_comes_from_the_git_layout_with_its_parameters_and_linked_account(tmp_path: Path) -> None:
    (tmp_path / "dataset").mkdir()
    (tmp_path / "linkedService").mkdir()
    (tmp_path / "linkedService" / "lake.json").write_text(
        json.dumps(
            {
                "name": "lake",
                "properties": {
                    "type": "AzureBlobFS",
                    "typeProperties": {"url": "https://acct.dfs.core.windows.net/"},
                },
            }
        )
    )
    (tmp_path / "dataset" / "daily.json").write_text(
        json.dumps(
            {
                "name": "daily",
                "properties": {
                    "linkedServiceName": {"referenceName": "lake"},
                    "type": "DelimitedText",
                    "parameters": {
                        "day": {"type": "String", "defaultValue": "2026-01-01"},
                        "kind": {"type": "String"},
                    },
                    "typeProperties": {
                        "location": {
                            "type": "AzureBlobFSLocation",
                            "fileSystem": "raw",
                            "folderPath": {"value": "@concat('x')", "type": "Expression"},
                            "fileName": "@{dataset().kind}_@{dataset().day}.csv",
                        },
                        "columnDelimiter": ";",
                        "firstRowAsHeader": True,
                    },
                },
            }
        )
    )
    found = blob_dataset(DatasetRef(name="daily", parameters={"kind": "sales"}), str(tmp_path / "pipeline"))
    assert (found.container, found.file, found.column_delimiter, found.first_row_as_header) == (
        "raw",
        "sales_2026-01-01.csv",
        ";",
        True,
    )
    assert found.account_url == "https://acct.dfs.core.windows.net"
    with pytest.raises(DatasetError, match="no dataset 'nope'"):
        blob_dataset(DatasetRef(name="nope"), str(tmp_path / "pipeline"))


@pytest.mark.parametrize("container", ["u7", "Raw", "raw--data", "-raw", "raw_data", "x" * 64])
def test_a_dataset_naming_no_valid_container_is_refused_naming_the_field(container: str) -> None:
    location = {"type": "AzureBlobStorageLocation", "container": container, "fileName": "a.json"}
    inline = {"properties": {"type": "Json", "typeProperties": {"location": location}}}
    with pytest.raises(DatasetError, match=r"typeProperties\.location: .* is not a container name"):
        blob_dataset(DatasetRef(inline=inline), None)


@pytest.mark.parametrize("container", ["raw", "raw-data-2", "a1b", "x" * 63, "$web"])
def test_valid_container_names_pass(container: str) -> None:
    location = {"type": "AzureBlobStorageLocation", "container": container, "fileName": "a.json"}
    inline = {"properties": {"type": "Json", "typeProperties": {"location": location}}}
    assert blob_dataset(DatasetRef(inline=inline), None).container == container


def test_an_inline_sql_dataset_is_refused_with_its_type() -> None:
    inline = {"properties": {"type": "AzureSqlTable", "typeProperties": {}}}
    with pytest.raises(DatasetError, match="'AzureSqlTable' cannot be read here"):
        blob_dataset(DatasetRef(inline=inline), None)


def test_getmetadata_of_a_folder_a_file_and_a_missing_item() -> None:
    blobs = Blobs({"c/in/a.csv": "x", "c/in/sub/b.csv": "yy", "c/in/z.json": "{}"})
    out = get_metadata(_ds(), ["childItems", "exists", "itemName", "itemType"], blobs)
    assert out == {
        "childItems": [
            {"name": "a.csv", "type": "File"},
            {"name": "sub", "type": "Folder"},
            {"name": "z.json", "type": "File"},
        ],
        "exists": True,
        "itemName": "in",
        "itemType": "Folder",
    }
    file = get_metadata(_ds(file="a.csv"), ["size", "lastModified", "itemName"], blobs)
    assert file == {"size": 1, "lastModified": T0.isoformat(), "itemName": "a.csv"}
    assert get_metadata(_ds(file="none.csv"), ["exists", "size"], blobs) == {"exists": False}
    with pytest.raises(DataActivityError, match="c/in/none.csv does not exist"):
        get_metadata(_ds(file="none.csv"), ["size"], blobs)
    with pytest.raises(DataActivityError, match="childItems is not available for c/in/a.csv"):
        get_metadata(_ds(file="a.csv"), ["childItems"], blobs)


def test_lookup_rows_of_delimited_and_json_files() -> None:
    assert parse_rows('a,"b,c"\n1,2\n', _ds()) == [
        {"Prop_0": "a", "Prop_1": "b,c"},
        {"Prop_0": "1", "Prop_1": "2"},
    ]
    assert parse_rows("k|v\n1|x\n", _ds(first_row_as_header=True, column_delimiter="|")) == [
        {"k": "1", "v": "x"}
    ]
    assert parse_rows('[{"a": 1}, {"a": 2}]', _ds("json")) == [{"a": 1}, {"a": 2}]
    assert parse_rows('{"a": 1}\n{"a": 2}\n', _ds("json")) == [{"a": 1}, {"a": 2}]
    with pytest.raises(DataActivityError, match="not JSON objects"):
        parse_rows("[1, 2]", _ds("json"))
    blobs = Blobs({"c/in/1.json": '{"n": 1}', "c/in/2.json": '[{"n": 2}, {"n": 3}]'})
    assert lookup(_ds("json"), False, blobs) == {"count": 3, "value": [{"n": 1}, {"n": 2}, {"n": 3}]}
    assert lookup(_ds("json"), True, blobs) == {"firstRow": {"n": 1}}
    assert lookup(_ds("json", folder="empty"), True, blobs) == {}


def test_web_output_reads_header_secrets_from_app_settings_and_masks_them_in_errors() -> None:
    sent: list[dict[str, str]] = []

    def answer(method: str, url: str, headers: dict[str, str], body: Any, timeout: float) -> WebAnswer:
        sent.append(headers)
        return WebAnswer(200, [1, 2])

    payload = WebPayload(url="https://x/y", headers={"x-key": "%API_KEY%", "accept": "json"})
    assert web_output(payload, answer, {"API_KEY": "very-secret"}) == {"Response": [1, 2]}
    assert sent == [{"x-key": "very-secret", "accept": "json"}]

    def echo_fail(method: str, url: str, headers: dict[str, str], body: Any, timeout: float) -> WebAnswer:
        raise WebCallError(f"GET https://x/y answered 401: bad key {headers['x-key']}")

    with pytest.raises(WebCallError) as failed:
        web_output(payload, echo_fail, {"API_KEY": "very-secret"})
    assert "very-secret" not in str(failed.value) and "***" in str(failed.value)
    with pytest.raises(DataActivityError, match="app setting 'API_KEY', which is not defined"):
        header_values({"x-key": "%API_KEY%"}, {})


def test_a_failed_data_activity_is_a_failed_task_with_the_reason() -> None:
    task = Task(key="look", payload=LookupPayload(dataset=DatasetRef(name="missing")))
    result = run_data_activity(task, None, lambda _: Blobs({}))
    assert (result.state, result.message) == (TaskState.FAILED, "no dataset 'missing'")


def test_a_dataset_the_git_layout_lacks_is_a_warning_at_its_reference(tmp_path: Path) -> None:
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "there.json").write_text(
        json.dumps({"name": "there", "properties": {"type": "Json"}})
    )
    activities = [
        {
            "name": f"m{i}",
            "type": "GetMetadata",
            "typeProperties": {"dataset": {"referenceName": name}, "fieldList": ["exists"]},
        }
        for i, name in enumerate(["there", "gone"])
    ]
    path = tmp_path / "pipeline" / "p.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"name": "p", "properties": {"activities": activities}}))
    result = load_definition(path, required_tags=())
    warnings = [(w.path, w.message) for w in result.warnings if w.code == "unknown-dataset"]
    assert warnings == [
        (
            "$.properties.activities[1].typeProperties.dataset.referenceName",
            "no dataset/gone.json in this factory's folders",
        )
    ]


def test_a_web_call_to_the_instance_metadata_address_is_refused() -> None:
    from jobclusters.services.web_call import call

    with pytest.raises(WebCallError, match="link-local addresses"):
        call("GET", "http://169.254.169.254/metadata/identity/oauth2/token?x=1", {}, None, 1)
    with pytest.raises(WebCallError, match="only http and https"):
        call("GET", "file:///etc/passwd", {}, None, 1)
