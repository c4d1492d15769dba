"""Cost put on the rows as tracking writes them: a task attempt's when it ends, a run's when it ends.

Pricing never stops a row from being written: a failure to price leaves the row without a cost (and a
log line), because a tracking write that kept failing would hold the run up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from jobclusters.cost.ledger import run_cost, shared_cluster_overheads, task_cost
from jobclusters.cost.models import RunCost
from jobclusters.services import factory
from jobclusters.tracking.models import RunRecord, TaskRunRecord

log = logging.getLogger("jobclusters.cost.ledger")


def with_task_cost(record: TaskRunRecord) -> TaskRunRecord:
    try:
        catalogue = factory.get_price_catalogue()
        cost = task_cost(
            record, catalogue, region=factory.settings().price_region, simulated=factory.costs_are_simulated()
        )
    except Exception:
        log.exception("run %s task %s: not priced", record.run_id, record.task_key)
        return record
    if cost is None:
        return record
    return record.model_copy(update={"cost": cost, "estimated_cost": cost.estimate})


def with_run_cost(record: RunRecord, tasks: Sequence[TaskRunRecord]) -> RunRecord:
    """Every attempt of every generation the run paid for, plus its shared clusters' idle time."""
    try:
        catalogue = factory.get_price_catalogue()
        overhead = shared_cluster_overheads(
            tasks, catalogue, region=factory.settings().price_region, simulated=factory.costs_are_simulated()
        )
        cost = run_cost(tasks, overhead, catalogue.currency)
    except Exception:
        log.exception("run %s: not priced", record.run_id)
        return record
    return record.model_copy(
        update={"cost": cost, "estimated_cost": cost.estimate, "cost_currency": cost.currency}
    )


def ended_run_cost(run_id: str) -> RunCost | None:
    """What a run that just ended cost, from its task rows (its own row may still be being written)."""
    record, tasks = factory.get_run_store().get_run_with_tasks(run_id)
    if record is None or not any(t.cost is not None for t in tasks):
        return None
    return with_run_cost(record, tasks).cost
