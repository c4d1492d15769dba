"""`check_run_request`: whether a `run_job` input was made by this app's triggers (see
`jobclusters.run_admission`). An activity because the key is a setting, which orchestrators may not read."""

from __future__ import annotations

import azure.durable_functions as df

from jobclusters.cost.admission import budget_problems
from jobclusters.execution.messages import RunAdmissionInput
from jobclusters.execution.registry import CHECK_RUN_REQUEST, activity
from jobclusters.run_admission import admission_problems
from jobclusters.run_request import RunRequest
from jobclusters.run_signing_key import run_signing_key
from jobclusters.services import factory

bp = df.Blueprint()


@activity(bp, CHECK_RUN_REQUEST)
def check_run_request(inp: RunAdmissionInput) -> list[str]:
    problems = admission_problems(inp.model_dump(mode="json"), run_signing_key(factory.settings()))
    if problems:
        return problems
    return budget_problems(RunRequest.model_validate(inp.request))
