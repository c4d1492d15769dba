"""Which `run_job` inputs may run: only the requests this app's own triggers made.

The Durable Functions management API starts any orchestrator with any input for whoever holds the system
key, so `run_job` cannot trust its input. A trigger signs the `RunRequest` it built (HMAC-SHA256 over its
canonical JSON, with the app's run-signing key) and `run_job`, before it claims a slot, has an activity
check that signature and validate the job again as a submitted definition would be (schema, lint, secret
lint): a hand-made request, or one changed on the way, is refused without running anything.

Pure: the key is an argument. The orchestrator may not read settings (its replays must not depend on
them), so the activity `check_run_request` reads the key and calls `admission_problems`; its answer is
recorded in the orchestration history, which keeps replays deterministic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from jobclusters.run_request import RunRequest
from jobclusters.spec import load_definition

SIGNATURE_FIELD = "signature"


def canonical(request: RunRequest) -> bytes:
    """The bytes that are signed: the request as it reads back from an orchestration input (one JSON
    round trip, so defaults and normalisation are the same on both sides), keys sorted, no spaces."""
    normal = RunRequest.model_validate(request.model_dump(mode="json")).model_dump(mode="json")
    return json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(request: RunRequest, key: bytes) -> str:
    return hmac.new(key, canonical(request), hashlib.sha256).hexdigest()


def signed_input(request: RunRequest, key: bytes) -> dict[str, Any]:
    """The `run_job` input a trigger starts: `{"request": ..., "signature": ...}`."""
    return {"request": request.model_dump(mode="json"), SIGNATURE_FIELD: sign(request, key)}


def admission_problems(payload: Mapping[str, Any], key: bytes) -> list[str]:
    """Why `payload` (`{"request", "signature"}`) may not run; empty when it may. Messages never echo
    the request's values."""
    try:
        request = RunRequest.model_validate(payload.get("request"))
    except ValidationError as exc:
        return [f"not a run request ({exc.error_count()} schema error(s))"]
    signature = payload.get(SIGNATURE_FIELD)
    if not isinstance(signature, str) or not signature:
        return ["the request is not signed: only this app's triggers may start run_job"]
    if not hmac.compare_digest(signature.encode(), sign(request, key).encode()):
        return ["the request signature does not match: only this app's triggers may start run_job"]
    result = load_definition(request.job.model_dump(mode="json"), format="native", required_tags=())
    return [f"{p.path}: {p.message}" for p in result.errors]
