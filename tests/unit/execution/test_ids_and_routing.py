from __future__ import annotations

import re

from jobclusters.execution.ids import (
    MAX_BATCH_ID,
    MAX_INSTANCE_ID,
    attempt_instance_id,
    batch_id,
    cluster_task_key,
    task_instance_id,
)
from jobclusters.execution.routing import attempt_retry_policy, executor_for, per_input_retries
from jobclusters.spec.model import Task


def test_instance_ids_are_deterministic_and_distinct_per_task_repair_and_attempt() -> None:
    a = task_instance_id("run-1", "load", 0)
    assert a == task_instance_id("run-1", "load", 0) == "run-1:load:r0"
    assert len({a, task_instance_id("run-1", "load", 1), task_instance_id("run-1", "other", 0)}) == 3
    assert attempt_instance_id(a, 2) == "run-1:load:r0:a2"


def test_free_text_task_keys_become_safe_instance_ids() -> None:
    ids = {
        task_instance_id("run-1", key) for key in ("Copy data/to #lake?", "Copy data/to #lake!", "x" * 300)
    }
    assert len(ids) == 3
    for value in ids:
        assert not re.search(r"[/\\#?]", value)
        assert len(value) <= MAX_INSTANCE_ID


def test_long_ids_are_bounded_but_stay_unique() -> None:
    long_run = "run-" + "a" * 120
    assert len(attempt_instance_id(task_instance_id(long_run, "t"), 1)) <= MAX_INSTANCE_ID
    assert attempt_instance_id(long_run, 1) != attempt_instance_id(long_run, 2)


def test_batch_ids_use_the_allowed_alphabet_and_length() -> None:
    plain = batch_id("job", "run-1")
    assert plain == "job-run-1"
    odd = batch_id("job", "run-1:load:r0:a0")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", odd)
    assert odd != batch_id("job", "run-1_load_r0_a0")
    assert len(batch_id("pool", "x" * 200)) <= MAX_BATCH_ID


def test_cluster_task_keys_match_the_cluster_api_pattern() -> None:
    assert cluster_task_key("ingest_1") == "ingest_1"
    key = cluster_task_key("Ingest data.v2")
    assert re.fullmatch(r"[\w\-]+", key) and key != cluster_task_key("Ingest data_v2")


def _task(payload: dict[str, object], **extra: object) -> Task:
    return Task.model_validate({"key": "t", "payload": payload, **extra})


def test_payload_kinds_route_to_their_orchestrator() -> None:
    assert executor_for(_task({"kind": "command", "command_line": "x"})) == "batch"
    assert executor_for(_task({"kind": "spark_python", "python_file": "a.py"})) == "cluster"
    assert executor_for(_task({"kind": "hive", "query": "select 1"})) == "cluster"
    assert executor_for(_task({"kind": "condition", "op": "EQUAL_TO", "left": "a", "right": "a"})) == "inline"
    assert executor_for(_task({"kind": "sql", "warehouse_id": "w"})) == "cluster"  # issue 14: sql runs now
    assert executor_for(_task({"kind": "run_job", "job_id": "j"})) == "child"
    assert executor_for(_task({"kind": "lookup", "dataset": {"name": "d"}})) == "data"
    assert executor_for(_task({"kind": "unsupported", "home_kind": "dbt_task"})) == "unsupported"
    assert executor_for(Task(key="empty")) == "unsupported"


def test_a_fan_out_retries_each_input_on_batch_not_the_whole_attempt() -> None:
    fan = _task(
        {"kind": "command", "command_line": "x", "fan_out": {"items": ["a"]}}, retry={"max_retries": 3}
    )
    assert per_input_retries(fan) == 3
    assert attempt_retry_policy(fan).max_retries == 0
    single = _task({"kind": "command", "command_line": "x"}, retry={"max_retries": 3})
    assert per_input_retries(single) == 0
    assert attempt_retry_policy(single).max_retries == 3
    on_timeout = _task(
        {"kind": "command", "command_line": "x", "fan_out": {"items": ["a"]}},
        retry={"max_retries": 2, "retry_on_timeout": True},
    )
    assert attempt_retry_policy(on_timeout).max_retries == 2
