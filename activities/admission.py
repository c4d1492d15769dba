"""`check_run_request`: whether a `run_job` input was made by this app's triggers (see
`jobclusters.run_admission`). An activity because the key is a setting, which orchestrators may not read."""

from __future__ import annotations

import logging

import azure.durable_functions as df

from jobclusters.cost.admission import budget_problems
from jobclusters.execution.messages import RunAdmissionInput
from jobclusters.execution.registry import CHECK_RUN_REQUEST, activity
from jobclusters.run_admission import admission_problems
from jobclusters.run_request import RunRequest
from jobclusters.run_signing_key import run_signing_key
from jobclusters.services import factory

bp = df.Blueprint()
log = logging.getLogger(__name__)


@activity(bp, CHECK_RUN_REQUEST)
def check_run_request(inp: RunAdmissionInput) -> list[str]:
    problems = admission_problems(inp.model_dump(mode="json"), run_signing_key(factory.settings()))
    if problems:
        return problems
    request = RunRequest.model_validate(inp.request)
    try:
        return budget_problems(request)
    except Exception:  # a budget that cannot be read now does not stop the run (nor lose it)
        log.exception("run %s: budget not checked at start", request.run_id)
        return []
