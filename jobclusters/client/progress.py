"""Follow a run like a CI log: one line per task state change (and per change of a for_each's iteration
counts), then a summary table.

The run is read through the API (`GET /api/runs/{id}`): the orchestration's live task states while it
runs, the Table records once they exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from jobclusters.client.api import ApiClient, ApiClientError
from jobclusters.cost.models import amount_text
from jobclusters.spec.for_each import Tally
from jobclusters.spec.model import TaskState

OK_RESULTS = frozenset({"SUCCESS", "SUCCESS_WITH_FAILURES"})
# Characters of a task's message on its progress line (one terminal line).
_MESSAGE_CHARS = 120
_MARK = {
    "SUCCESS": "ok",
    "FAILED": "!!",
    "TIMEDOUT": "!!",
    "CANCELED": "--",
    "UPSTREAM_FAILED": "--",
    "UPSTREAM_CANCELED": "--",
    "EXCLUDED": "..",
    "SKIPPED": "..",
    "RUNNING": ">>",
    "WAITING_FOR_RETRY": "~~",
}
_STATES = frozenset(s.value for s in TaskState)


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "-"
    seconds = float(seconds)
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def follow(
    client: ApiClient,
    run_id: str,
    out: TextIO,
    *,
    interval: float = 0.5,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the run is done; returns its final view. Raises TimeoutError after `timeout` seconds."""
    started = clock()
    seen: dict[str, tuple[str, int, str | None]] = {}
    last_state = None
    while True:
        try:
            view = client.get_run(run_id)
        except ApiClientError as exc:
            if exc.status != 404 or clock() - started > 30:
                raise
            time.sleep(interval)
            continue
        elapsed = clock() - started
        if view.get("state") != last_state:
            last_state = view.get("state")
            print(f"[{elapsed:6.1f}s] run {run_id}: {last_state}", file=out, flush=True)
        for key, task in view.get("tasks", {}).items():
            words = iteration_words(task)
            marker = (task.get("state", "PENDING"), int(task.get("attempts") or 0), words)
            if seen.get(key) == marker:
                continue
            seen[key] = marker
            state, attempts, _ = marker
            line = f"[{elapsed:6.1f}s] {_MARK.get(state, '  ')} {key:<28} {state:<18}"
            if words:
                line += f" {words}"
            elif task.get("branch") is not None:
                line += f" branch {task['branch']}"
            elif attempts:
                line += f" attempt {attempts}"
            if task.get("end"):
                line += f"  {_duration(task.get('duration_seconds'))}"
            if task.get("message") and state not in ("SUCCESS", "RUNNING", "PENDING"):
                line += f"  {str(task['message']).splitlines()[0][:_MESSAGE_CHARS]}"
            print(line.rstrip(), file=out, flush=True)
        if view.get("done"):
            return view
        if timeout is not None and elapsed > timeout:
            raise TimeoutError(f"run {run_id} still {view.get('state')} after {timeout:.0f} s")
        time.sleep(interval)


def iteration_words(task: dict[str, Any]) -> str | None:
    """A for_each task's iteration counts, `3/4 done, 1 failed`; None for other tasks."""
    total = task.get("iterations_total")
    if not isinstance(total, int):
        return None
    iterations = task.get("iterations") or []
    states = [TaskState(i["state"]) for i in iterations if i.get("state") in _STATES]
    succeeded = sum(1 for s in states if s == TaskState.SUCCESS)
    failed = sum(1 for s in states if s.is_terminal and s != TaskState.SUCCESS)
    # an Until's total is the passes that ended; one it stopped (a cancel) is listed but not counted
    return Tally(total=max(total, len(iterations)), succeeded=succeeded, failed=failed).describe()


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def has_costs(view: dict[str, Any]) -> bool:
    return bool(view.get("cost")) or any(t.get("cost") for t in view.get("tasks", {}).values())


def summary_rows(view: dict[str, Any]) -> list[list[str]]:
    """One row per task; a COST column (before MESSAGE) when the run has costs."""
    rows = []
    costs = has_costs(view)
    for key, task in view.get("tasks", {}).items():
        rows.append(
            [
                key,
                str(task.get("state")),
                str(task.get("attempts") or 0),
                _duration(task.get("duration_seconds")),
                _short(str(task.get("compute") or "-"), 56),
                *([money_text(task.get("cost"))] if costs else []),
                (str(task.get("message") or "").splitlines() or [""])[0][:60],
            ]
        )
    return rows


def money_text(cost: Any) -> str:
    """`0.0123 USD`, `-` for work with no cost, `n/a` for a cost with no price."""
    if not isinstance(cost, dict):
        return "-"
    if cost.get("estimate") is None:
        return "n/a"
    return f"{amount_text(cost['estimate'])} {cost.get('currency') or ''}".rstrip()


def render_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def print_summary(view: dict[str, Any], out: TextIO) -> None:
    header = [
        "TASK",
        "STATE",
        "ATTEMPTS",
        "DURATION",
        "COMPUTE",
        *(["COST"] if has_costs(view) else []),
        "MESSAGE",
    ]
    for line in render_table(header, summary_rows(view)):
        print(line, file=out)
    cost = view.get("cost")
    if isinstance(cost, dict):
        overhead = [line for line in cost.get("overhead") or [] if line.get("estimate")]
        lines = ", ".join(f"{line['what']} {amount_text(line['estimate'])}" for line in overhead)
        print(f"total cost: {money_text(cost)}" + (f" (overhead: {lines})" if lines else ""), file=out)
        if "embedded default" in str(cost.get("basis")) or _any_simulated(view):
            print("  (embedded default: what the same run would cost on Azure)", file=out)
    print(
        f"run {view.get('run_id')} of job {view.get('job_id')}: {view.get('result') or view.get('state')}",
        file=out,
    )


def _any_simulated(view: dict[str, Any]) -> bool:
    return any(
        "embedded default" in str((t.get("cost") or {}).get("basis")) for t in view.get("tasks", {}).values()
    )


def result_json(view: dict[str, Any]) -> dict[str, Any]:
    """The `--json` contract: `{"run_id", "result", "tasks": {key: {"state", "attempts", "start", "end",
    ...}}}` (plus job_id and state); an If/Switch adds its `branch` and its inner activities' `tasks`."""
    tasks = {
        key: {
            "state": task.get("state"),
            "attempts": task.get("attempts", 0),
            "start": task.get("start"),
            "end": task.get("end"),
            "duration_seconds": task.get("duration_seconds"),
            "queue_seconds": task.get("queue_seconds"),
            "compute": task.get("compute"),
            "message": task.get("message"),
            **({"failed_inputs": task["failed_inputs"]} if task.get("failed_inputs") else {}),
            **({"iterations": task["iterations"]} if task.get("iterations") is not None else {}),
            "exit_code": task.get("exit_code"),
            **({"cost": task["cost"]} if task.get("cost") else {}),
            **({"child_run_id": task["child_run_id"]} if task.get("child_run_id") else {}),
            **({"branch": task["branch"]} if task.get("branch") is not None else {}),
            **({"tasks": result_json(task)["tasks"]} if isinstance(task.get("tasks"), dict) else {}),
        }
        for key, task in view.get("tasks", {}).items()
    }
    return {
        "run_id": view.get("run_id"),
        "result": view.get("result"),
        "job_id": view.get("job_id"),
        "state": view.get("state"),
        "tasks": tasks,
        **({"cost": view["cost"]} if view.get("cost") else {}),
    }


def exit_code(view: dict[str, Any]) -> int:
    return 0 if view.get("result") in OK_RESULTS else 1
