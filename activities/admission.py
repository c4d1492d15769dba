"""`check_run_request`: whether a `run_job` input was made by this app's triggers (see
`jobclusters.run_admission`). An activity because the key is a setting, which orchestrators may not read."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from jobclusters.run_admission import admission_problems
from jobclusters.run_signing_key import run_signing_key
from jobclusters.settings import get_settings

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
def check_run_request(payload: dict[str, Any]) -> list[str]:
    return admission_problems(payload, run_signing_key(get_settings()))
