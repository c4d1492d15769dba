"""The requirement rules, table-driven: which settings a job's services need, and what is missing or
malformed, each named with the task and JSON path that needs it (issue 11 defect 7)."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.needed_settings import (
    ServiceNeed,
    app_problems,
    blocked_tasks,
    job_services,
    need_problems,
    require_service,
    setting_problems,
)
from jobclusters.settings import ConfigurationError, Settings, configuration_reason
from jobclusters.spec.model import Job

AZURE = {"JOBCLUSTERS_MODE": "azure", "JOBCLUSTERS_RUN_SIGNING_KEY": "a-signing-key"}
DATABRICKS = {"DATABRICKS_HOST": "https://adb-1.2.azuredatabricks.net"}
BATCH = {"BATCH_ACCOUNT_URL": "https://acct.westeurope.batch.azure.com"}
LIVY = {
    "HDINSIGHT_LIVY_URL": "https://c.azurehdinsight.net/livy",
    "HDINSIGHT_USERNAME": "admin",
    "HDINSIGHT_PASSWORD": "s3cret-pw",
}
SYNAPSE = {"SYNAPSE_ENDPOINT": "https://ws.dev.azuresynapse.net", "SYNAPSE_SPARK_POOL": "pool1"}


def spark(key: str, **task: Any) -> dict[str, Any]:
    return {"key": key, "payload": {"kind": "spark_python", "python_file": f"{key}.py"}, **task}


def command(key: str) -> dict[str, Any]:
    return {"key": key, "payload": {"kind": "command", "command_line": "echo hi"}}


def hive(key: str) -> dict[str, Any]:
    return {"key": key, "payload": {"kind": "hive", "query": "select 1"}}


def on(platform: str) -> dict[str, Any]:
    return {"compute": {"kind": "new_cluster", "cluster": {"platform": platform}}}


def job(*tasks: dict[str, Any], **extra: Any) -> Job:
    return Job.model_validate({"name": "j", "tasks": list(tasks), **extra})


# (settings, job, expected problems as (setting, problem, task key, path, required))
CASES: list[tuple[str, dict[str, str], Job, list[tuple[str, str, str | None, str, bool]]]] = [
    ("local mode needs no service", {}, job(spark("a"), command("b"), hive("c")), []),
    (
        "databricks host missing",
        AZURE,
        job(spark("a")),
        [("DATABRICKS_HOST", "missing", "a", "$.tasks[0]", True)],
    ),
    ("databricks host set", {**AZURE, **DATABRICKS}, job(spark("a")), []),
    (
        "databricks host not a URL",
        {**AZURE, "DATABRICKS_HOST": "adb-1.2.azuredatabricks.net"},
        job(spark("a")),
        [("DATABRICKS_HOST", "malformed", "a", "$.tasks[0]", True)],
    ),
    (
        "a command runs on Batch",
        AZURE,
        job(command("b")),
        [("BATCH_ACCOUNT_URL", "missing", "b", "$.tasks[0]", True)],
    ),
    (
        "a shared key needs the account name",
        {**AZURE, **BATCH, "BATCH_ACCOUNT_KEY": "k"},
        job(command("b")),
        [("BATCH_ACCOUNT_NAME", "missing", "b", "$.tasks[0]", True)],
    ),
    ("Batch with a managed identity", {**AZURE, **BATCH}, job(command("b")), []),
    (
        "hive runs on Livy",
        {**AZURE, "HDINSIGHT_LIVY_URL": LIVY["HDINSIGHT_LIVY_URL"]},
        job(hive("c")),
        [
            ("HDINSIGHT_USERNAME", "missing", "c", "$.tasks[0]", True),
            ("HDINSIGHT_PASSWORD", "missing", "c", "$.tasks[0]", True),
        ],
    ),
    ("Livy complete", {**AZURE, **LIVY}, job(hive("c")), []),
    (
        "the cluster's platform decides: synapse",
        {**AZURE, **DATABRICKS},
        job(spark("s", **on("synapse"))),
        [
            ("SYNAPSE_ENDPOINT", "missing", "s", "$.tasks[0]", True),
            ("SYNAPSE_SPARK_POOL", "missing", "s", "$.tasks[0]", True),
        ],
    ),
    ("synapse complete", {**AZURE, **SYNAPSE}, job(spark("s", **on("synapse"))), []),
    (
        "hdinsight platform runs a spark task on Livy",
        AZURE,
        job(spark("h", **on("hdinsight"))),
        [
            ("HDINSIGHT_LIVY_URL", "missing", "h", "$.tasks[0]", True),
            ("HDINSIGHT_USERNAME", "missing", "h", "$.tasks[0]", True),
            ("HDINSIGHT_PASSWORD", "missing", "h", "$.tasks[0]", True),
        ],
    ),
    (
        "notifications without Service Bus: reported, not required",
        {**AZURE, **DATABRICKS},
        job(spark("a"), notifications={"on_failure": [{"kind": "webhook", "address": "https://x"}]}),
        [("ServiceBusConnection", "missing", None, "$", False)],
    ),
    (
        "a malformed Service Bus connection",
        {**AZURE, "ServiceBusConnection": "nope"},
        job(notifications={"on_start": [{"kind": "webhook", "address": "https://x"}]}),
        [("ServiceBusConnection", "malformed", None, "$", False)],
    ),
    (
        "a storage connection string that is none, in any mode",
        {"AzureWebJobsStorage": "not-a-connection-string"},
        job(),
        [("AzureWebJobsStorage", "malformed", None, "$", True)],
    ),
    (
        "condition and fail tasks need nothing",
        AZURE,
        job(
            {"key": "c", "payload": {"kind": "condition", "op": "EQUAL_TO", "left": "1", "right": "1"}},
            {"key": "f", "payload": {"kind": "fail", "message": "no"}},
        ),
        [],
    ),
]


@pytest.mark.parametrize(("values", "the_job", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_requirement_rules(
    values: dict[str, str], the_job: Job, expected: list[tuple[str, str, str | None, str, bool]]
) -> None:
    problems = setting_problems(the_job, Settings.from_mapping(values))
    assert [(p.setting, p.problem, p.task_key, p.path, p.required) for p in problems] == expected


def test_a_job_cluster_is_named_by_its_own_json_path() -> None:
    the_job = Job.model_validate(
        {
            "name": "j",
            "job_clusters": [{"key": "shared", "cluster": {"platform": "databricks"}}],
            "tasks": [spark("a", compute={"kind": "job_cluster", "job_cluster_key": "shared"})],
        }
    )
    the_job.job_clusters[0].cluster.source_path = "$.job_clusters[0].cluster"
    the_job.tasks[0].source_path = "$.tasks[0]"
    [problem] = setting_problems(the_job, Settings.from_mapping(AZURE))
    assert (problem.setting, problem.task_key, problem.path) == (
        "DATABRICKS_HOST",
        "a",
        "$.job_clusters[0].cluster",
    )
    assert [n.service for n in job_services(the_job)] == ["storage", "databricks"]


def test_blocked_tasks_get_one_line_naming_the_first_missing_setting_and_no_value() -> None:
    settings = Settings.from_mapping({**AZURE, "HDINSIGHT_PASSWORD": "s3cret-pw", "DATABRICKS_HOST": "x"})
    blocked = blocked_tasks(job(spark("a"), hive("c"), command("b")), settings)
    assert set(blocked) == {"a", "b", "c"}
    assert blocked["a"].startswith(
        "app setting DATABRICKS_HOST is malformed (needed for Databricks: task 'a'"
    )
    assert blocked["c"].startswith("app setting HDINSIGHT_LIVY_URL is missing")
    assert blocked["b"].startswith("app setting BATCH_ACCOUNT_URL is missing")
    for reason in blocked.values():
        assert "\n" not in reason and "s3cret" not in reason and configuration_reason(reason) == reason


SERVICES: list[tuple[str, dict[str, str], str]] = [
    ("databricks", {}, "DATABRICKS_HOST"),
    ("livy", {"HDINSIGHT_LIVY_URL": "https://c/livy"}, "HDINSIGHT_USERNAME"),
    ("synapse", {"SYNAPSE_ENDPOINT": "https://ws"}, "SYNAPSE_SPARK_POOL"),
    ("batch", {}, "BATCH_ACCOUNT_URL"),
]


@pytest.mark.parametrize(("service", "values", "setting"), SERVICES)
def test_a_service_constructor_check_raises_the_typed_configuration_error(
    service: Any, values: dict[str, str], setting: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        require_service(service, Settings.from_mapping(values))  # whatever the mode
    assert caught.value.setting == setting and caught.value.problem == "missing"
    assert str(caught.value).startswith(f"app setting {setting} is missing")


def test_app_problems_list_the_storage_once_and_each_jobs_own() -> None:
    settings = Settings.from_mapping({**AZURE, "AzureWebJobsStorage": "junk"})
    lines = [p.line for p in app_problems(settings, [("etl", job(spark("a"))), ("fan", job(command("b")))])]
    assert [line.split(" (")[0] for line in lines] == [
        "app setting AzureWebJobsStorage is malformed",
        "etl: app setting DATABRICKS_HOST is missing",
        "fan: app setting BATCH_ACCOUNT_URL is missing",
    ]
    assert all("junk" not in line for line in lines)


def test_azure_mode_needs_the_run_signing_key_and_local_mode_makes_its_own() -> None:
    azure = Settings.from_mapping(
        {"JOBCLUSTERS_MODE": "azure", "AzureWebJobsStorage": "AccountName=a;AccountKey=k"}
    )
    found = [p.setting for p in need_problems(ServiceNeed("storage"), azure)]
    assert found == ["JOBCLUSTERS_RUN_SIGNING_KEY"]
    local = Settings.from_mapping({"JOBCLUSTERS_MODE": "local"})
    assert [p.setting for p in need_problems(ServiceNeed("storage"), local)] == []


def test_a_sql_task_needs_the_databricks_workspace_of_its_warehouse() -> None:
    sql = {"key": "q", "payload": {"kind": "sql", "warehouse_id": "w", "query": {"file": {"path": "q.sql"}}}}
    the_job = Job.model_validate({"name": "j", "tasks": [sql]})
    assert [n.service for n in job_services(the_job)] == ["storage", "databricks"]
    assert blocked_tasks(the_job, Settings.from_mapping({**AZURE, **DATABRICKS})) == {}
