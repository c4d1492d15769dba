"""Run one batch of entity operations through the SDK's entity entry point, with the extension's JSON."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.functions as func

from devhost.engine.messages import EntityRequest

log = logging.getLogger("devhost.engine")

Batch = tuple[list[dict[str, Any]], bool, str | None]  # (results, exists, state JSON)


def run_entity_batch(
    fn: Any, name: str, key: str, exists: bool, state: str | None, requests: list[EntityRequest]
) -> Batch:
    """Results follow the requests' order; a failure of the whole batch fails every operation in it."""

    def all_failed(message: str) -> Batch:
        return [{"isError": True, "result": json.dumps(message)} for _ in requests], exists, state

    if fn is None:
        return all_failed(f"The function '{name}' doesn't exist, is disabled, or is not an entity function.")
    payload = {
        "self": {"name": name, "key": key},
        "state": state,
        "exists": exists,
        # The extension passes each operation input as a JSON string holding the JSON text.
        "batch": [
            {
                "name": r.op,
                "signal": r.signal,
                "input": json.dumps(r.input if r.input is not None else "null"),
            }
            for r in requests
        ],
    }
    try:
        out = json.loads(fn.get_user_function()(func.EntityContext(json.dumps(payload))))
        results = list(out["results"])
        if len(results) != len(requests):
            raise ValueError(f"entity returned {len(results)} results for {len(requests)} operations")
    except Exception as exc:
        log.exception("entity %s@%s failed as a whole", name, key)
        return all_failed(f"{type(exc).__name__}: {exc}")
    new_exists = bool(out.get("entityExists"))
    return results, new_exists, out.get("entityState") if new_exists else None
