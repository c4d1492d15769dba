from __future__ import annotations

from typing import Any

from jobclusters.settings import DEFAULT_COST_TAGS
from jobclusters.spec import load_definition

CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2", "num_workers": 1}


def job(tags: dict[str, str] | None = None, cluster_tags: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "j",
        "tasks": [
            {
                "task_key": "a",
                "new_cluster": {**CLUSTER, "custom_tags": cluster_tags or {}},
                "notebook_task": {"notebook_path": "/a"},
            }
        ],
    }
    if tags is not None:
        doc["tags"] = tags
    return doc


def test_missing_default_tags_are_warnings_at_the_cluster() -> None:
    result = load_definition(job({"Project": "p"}))
    assert result.errors == []
    [warning] = result.warnings
    assert warning.path == "$.tasks[0].new_cluster" and warning.code == "cost-tags"
    assert "Environment, CostCenter, Owner" in warning.message


def test_strict_makes_missing_tags_errors() -> None:
    result = load_definition(job({"Project": "p"}), strict=True)
    assert [e.code for e in result.errors] == ["cost-tags"] and result.warnings == []


def test_job_tags_and_cluster_tags_combine() -> None:
    doc = job({"Project": "p", "Environment": "dev"}, {"CostCenter": "cc-1", "owner": "me"})
    assert load_definition(doc, strict=True).errors == []


def test_the_policy_is_configurable() -> None:
    assert load_definition(job({"Team": "x"}), required_tags=["Team"], strict=True).errors == []
    result = load_definition(job(), required_tags=["Team"])
    assert "missing cost tags Team" in result.warnings[0].message
    assert load_definition(job(), required_tags=[], strict=True).errors == []


def test_default_policy_is_the_seed_s_four_tags() -> None:
    assert DEFAULT_COST_TAGS == ("Project", "Environment", "CostCenter", "Owner")


def test_empty_tag_values_do_not_count() -> None:
    doc = job(dict.fromkeys(DEFAULT_COST_TAGS, "x") | {"Owner": " "})
    assert "Owner" in load_definition(doc).warnings[0].message
