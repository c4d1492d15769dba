from __future__ import annotations

from jobclusters.spec.model import FileArrivalTrigger, Job, StorageEventTrigger
from jobclusters.spec.problems import Problems
from jobclusters.spec.validation import check_trigger_containers


def test_rules_on_containers_the_account_lacks_are_warnings_naming_the_container() -> None:
    job = Job(
        name="j",
        triggers=[
            StorageEventTrigger(container="landing", suffix=".csv"),
            FileArrivalTrigger(url="abfss://missing@acct.dfs.core.windows.net/in/"),
            StorageEventTrigger(prefix="/gone/blobs/sales/"),
            StorageEventTrigger(suffix=".csv"),  # any container: nothing to check
        ],
    )
    problems = Problems()
    check_trigger_containers(job, {"landing", "incoming"}, problems)
    assert problems.errors == []
    assert [(p.path, p.code) for p in problems.warnings] == [
        ("$.triggers[1]", "unknown-container"),
        ("$.triggers[2]", "unknown-container"),
    ]
    assert "'missing'" in problems.warnings[0].message and "'gone'" in problems.warnings[1].message


def test_a_databricks_file_arrival_warning_points_at_its_trigger() -> None:
    job = Job(name="j", triggers=[FileArrivalTrigger(url="raw/new/")])
    problems = Problems()
    check_trigger_containers(job, set(), problems, format="databricks")
    assert [p.path for p in problems.warnings] == ["$.trigger.file_arrival"]
