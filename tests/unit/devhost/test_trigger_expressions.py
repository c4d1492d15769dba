from __future__ import annotations

from datetime import timedelta

import pytest

from devhost.azurite import connection_string as azurite_connection_string
from devhost.triggers.connections import StorageConnectionError, storage_connection
from devhost.triggers.expressions import BindingExpressionError, parse_blob_path, render, resolve_settings
from devhost.triggers.options import ListenerTuning, TriggerConfigError, read_extensions


def test_blob_path_captures_name_and_extension_greedily() -> None:
    pattern = parse_blob_path("incoming/{name}.{ext}", where="t")
    assert (pattern.container, pattern.prefix) == ("incoming", "")
    assert pattern.match("report.v2.csv") == {"name": "report.v2", "ext": "csv"}
    assert pattern.match("no-extension") is None


def test_blob_path_literal_prefix_is_used_for_listing_and_matching() -> None:
    pattern = parse_blob_path("data/in/{name}.json", where="t")
    assert pattern.prefix == "in/"
    assert pattern.match("in/sub/a.json") == {"name": "sub/a"}
    assert pattern.match("out/a.json") is None


def test_blob_path_without_a_blob_part_matches_every_blob() -> None:
    assert parse_blob_path("samples", where="t").match("x/y.txt") == {"name": "x/y.txt"}


def test_blob_path_container_must_be_literal() -> None:
    with pytest.raises(BindingExpressionError, match="literal container"):
        parse_blob_path("{container}/{name}", where="function f")


def test_settings_references_resolve_and_missing_ones_are_named() -> None:
    assert resolve_settings("%IN%/{name}", {"IN": "uploads"}, where="t") == "uploads/{name}"
    with pytest.raises(BindingExpressionError, match="app setting 'OUT'"):
        resolve_settings("%OUT%/x", {}, where="function f: path")


def test_render_fills_trigger_data_case_insensitively_and_from_json_fields() -> None:
    data = {"name": "a", "Order": {"Id": 7}}
    assert render("out/{Name}-{order.id}.txt", data, where="t") == "out/a-7.txt"
    assert len(render("{rand-guid}", {}, where="t")) == 36


def test_render_names_the_unknown_placeholder_and_the_available_data() -> None:
    with pytest.raises(BindingExpressionError, match=r"no value for \{missing\} \(trigger data: name\)"):
        render("x/{missing}", {"name": "a"}, where="t")


def test_connection_defaults_to_azure_web_jobs_storage_and_maps_development_storage() -> None:
    assert storage_connection({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, None, where="t") == (
        azurite_connection_string()
    )
    assert storage_connection({"AzureWebJobsMine": "conn"}, "Mine", where="t") == "conn"


def test_missing_or_identity_based_connections_are_clear_errors() -> None:
    with pytest.raises(StorageConnectionError, match="'Other'"):
        storage_connection({}, "Other", where="t")
    with pytest.raises(StorageConnectionError, match="identity-based"):
        storage_connection({"Acc__serviceUri": "https://x"}, "Acc", where="t")


def test_host_json_queue_options_are_read_with_timespans() -> None:
    ext = read_extensions({"extensions": {"queues": {"maxDequeueCount": 2, "visibilityTimeout": "00:00:05"}}})
    assert ext.queues.maxDequeueCount == 2 and ext.queues.visibilityTimeout == timedelta(seconds=5)
    assert ext.serviceBus.maxConcurrentCalls == 16


def test_bad_host_json_value_names_its_path() -> None:
    with pytest.raises(TriggerConfigError, match=r"\$\.extensions\.queues\.batchSize"):
        read_extensions({"extensions": {"queues": {"batchSize": 64}}})


def test_poll_tuning_comes_from_devhost_settings() -> None:
    assert ListenerTuning.from_settings({"DEVHOST_BLOB_POLL_MS": "25"}).blob_poll_interval == 0.025
    with pytest.raises(TriggerConfigError, match="DEVHOST_BLOB_POLL_MS"):
        ListenerTuning.from_settings({"DEVHOST_BLOB_POLL_MS": "fast"})
