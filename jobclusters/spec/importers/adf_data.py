"""ADF / Synapse activities that start other work or read data, as payloads: ExecutePipeline (a child run).

`adf.py` hands an activity here when its type is in `DATA_TYPES`; everything else stays there.
"""

from __future__ import annotations

from jobclusters.spec.model import Payload, RunJobPayload
from jobclusters.spec.reader import Node

DATA_TYPES = frozenset({"ExecutePipeline"})


def read_data_activity(node: Node, kind: str, body: Node | None) -> Payload | None:
    if body is None:
        node.error("typeProperties", f"required: a {kind} activity has typeProperties", "required")
        return None
    return _execute_pipeline(body)


def _execute_pipeline(body: Node) -> Payload | None:
    pipeline = body.obj("pipeline", required=True)
    if pipeline is None:
        return None
    name = pipeline.string("referenceName", required=True)
    if name is None:
        return None
    from jobclusters.spec.importers.adf import unwrap_expression  # adf.py imports this module

    parameters = unwrap_expression(body.map("parameters"))
    return RunJobPayload(
        job_id=name,
        job_parameters=parameters if isinstance(parameters, dict) else {},
        wait_on_completion=body.boolean("waitOnCompletion", default=True),
    )
