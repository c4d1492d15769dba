"""WebActivity, GetMetadata and Lookup: one call each; the logic is in `execution.data_activities`."""

from __future__ import annotations

import azure.durable_functions as df

from jobclusters.execution.data_activities import run_data_activity as run
from jobclusters.execution.messages import DataActivityInput, DataActivityResult
from jobclusters.execution.registry import RUN_DATA_ACTIVITY, activity
from jobclusters.services import factory

bp = df.Blueprint()


@activity(bp, RUN_DATA_ACTIVITY)
def run_data_activity(inp: DataActivityInput) -> DataActivityResult:
    result = run(inp.run.task, inp.run.base_dir, factory.get_blob_datasets)
    return DataActivityResult(state=result.state, output=result.output, message=result.message)
