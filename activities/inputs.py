"""Fan-out input planning: the list of inputs a command runs over, stored as a blob manifest."""

from __future__ import annotations

import fnmatch
from urllib.parse import urlparse

import azure.durable_functions as df

from jobclusters.execution.messages import PlanInputsInput, PlanInputsResult
from jobclusters.execution.registry import PLAN_INPUTS, activity
from jobclusters.failed_inputs import InputSelection
from jobclusters.services import factory

bp = df.Blueprint()


def split_location(location: str, account_url: str) -> tuple[str, str]:
    """`container/prefix`, `/container/prefix` or `<account url>/container/prefix` as (container, prefix)."""
    text = location.split("?", 1)[0]
    if text.startswith(account_url):
        text = text[len(account_url) :]
    elif "://" in text:
        text = urlparse(text).path
    container, _, prefix = text.lstrip("/").partition("/")
    if not container:
        raise ValueError(f"fan_out.blob_prefix {location!r} names no container")
    return container, prefix


@activity(bp, PLAN_INPUTS)
def plan_inputs(inp: PlanInputsInput) -> PlanInputsResult:
    blobs = factory.get_blob_refs()
    fan_out = inp.fan_out
    items: list[str | None]
    if fan_out is None:
        items = [None]
    elif fan_out.items is not None:
        items = [*fan_out.items[: fan_out.max_inputs]]
    elif fan_out.trigger_files:
        items = [*inp.trigger_files[: fan_out.max_inputs]]
    else:
        container, prefix = split_location(fan_out.blob_prefix or "", blobs.account_url)
        names = blobs.list_names(
            container, prefix, fan_out.max_inputs * 4 if fan_out.glob else fan_out.max_inputs
        )
        if fan_out.glob:
            pattern = fan_out.glob
            names = [
                n
                for n in names
                if fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(n.rsplit("/", 1)[-1], pattern)
            ]
        items = [f"{container}/{n}" for n in names[: fan_out.max_inputs]]
    name = f"manifests/{inp.attempt_id.replace(':', '/')}"
    if inp.only is None:
        return PlanInputsResult(count=len(items), manifest=blobs.put_json(f"{name}.json", items))
    indexes = selected_indexes(inp.only, len(items))
    return PlanInputsResult(
        count=len(indexes),
        manifest=blobs.put_json(f"{name}.json", [items[i] for i in indexes]),
        indexes=blobs.put_json(f"{name}.indexes.json", indexes),
    )


def selected_indexes(only: InputSelection, count: int) -> list[int]:
    """The inputs a repair runs again, in order; an index the inputs no longer reach is dropped."""
    wanted = only.indexes
    if only.ref is not None:
        wanted = [int(f["index"]) for f in factory.get_blob_refs().get_json(only.ref)]
    return sorted({i for i in wanted if 0 <= i < count})
