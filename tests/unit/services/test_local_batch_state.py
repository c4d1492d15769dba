"""Local Batch state without processes: pool topology, exit options, dependencies, recovery from SQLite."""

from __future__ import annotations

from pathlib import Path

from jobclusters.services.batch import JobSpec, PoolInformation, PoolSpec, TaskSpec
from jobclusters.services.local_batch.state import (
    PREEMPT_METADATA_KEY,
    BatchState,
    Job,
    Pool,
    Task,
    dependencies,
    exit_options,
    pool_nodes,
    satisfies,
)
from jobclusters.services.local_batch.store import LocalBatchStore


def task(task_id: str, **fields) -> TaskSpec:
    return TaskSpec.model_validate({"id": task_id, "commandLine": "true", **fields})


def test_pool_nodes_are_capped_by_the_machine_and_spot_nodes_come_last():
    spec = PoolSpec.model_validate(
        {
            "id": "p",
            "vmSize": "local",
            "targetDedicatedNodes": 2,
            "targetLowPriorityNodes": 2,
            "taskSlotsPerNode": 2,
            "metadata": [{"name": PREEMPT_METADATA_KEY, "value": "0.25"}],
        }
    )
    pool = pool_nodes(spec, max_slots=6)
    # 3 of the 4 nodes fit; half of them spot, rounded half to even: 2.
    assert [(n.node_id, n.spot, n.free) for n in pool.nodes] == [
        ("tvm-0000", False, 2),
        ("tvm-0001-lp", True, 2),
        ("tvm-0002-lp", True, 2),
    ]
    assert pool.preempt_fraction == 0.25 and pool.start_state == "none"


def test_exit_options_match_codes_then_ranges_then_the_default():
    spec = task(
        "t",
        exitConditions={
            "exitCodes": [{"code": 3, "exitOptions": {"jobAction": "none"}}],
            "exitCodeRanges": [{"start": 2, "end": 5, "exitOptions": {"dependencyAction": "satisfy"}}],
            "preProcessingError": {"jobAction": "disable"},
            "default": {"jobAction": "terminate"},
        },
    )
    assert exit_options(spec, 3, {"code": "FailureExitCode"}) == {"jobAction": "none"}
    assert exit_options(spec, 4, {"code": "FailureExitCode"}) == {"dependencyAction": "satisfy"}
    assert exit_options(spec, 9, {"code": "FailureExitCode"}) == {"jobAction": "terminate"}
    assert exit_options(spec, None, {"code": "ResourceFileDownloadFailed"}) == {"jobAction": "disable"}


def test_dependencies_expand_ranges_and_only_success_or_satisfy_unblocks():
    spec = task("t", dependsOn={"taskIds": ["a"], "taskIdRanges": [{"start": 1, "end": 3}]})
    assert dependencies(spec) == {"a", "1", "2", "3"}
    failed = Task(job_id="j", spec=task("a"), seq=0, state="completed", result="failure", exit_code=1)
    assert not satisfies(failed) and not satisfies(None)
    assert satisfies(Task(job_id="j", spec=task("a"), seq=0, state="completed", result="success"))
    lenient = task("b", exitConditions={"default": {"dependencyAction": "satisfy"}})
    assert satisfies(Task(job_id="j", spec=lenient, seq=1, state="completed", result="failure"))


def test_recovery_rebuilds_pools_jobs_and_unfinished_tasks_in_submission_order(tmp_path: Path):
    store = LocalBatchStore(tmp_path / "batch.sqlite")
    state = BatchState(store, clock=lambda: 1000.0)
    pool = pool_nodes(PoolSpec(id="p", vm_size="local", target_dedicated_nodes=1), max_slots=4)
    pool.start_state = "running"
    state.add_pool(pool)
    job = Job(spec=JobSpec(id="j", pool_info=PoolInformation(pool_id="p")), pool_id="p", created=5.0)
    state.add_job(job)
    first, second, third = state.insert_tasks(job, [task("a"), task("b"), task("c")], kind="task")
    first.state, first.pgid = "running", None
    second.state, second.result = "completed", "success"
    for each in (first, second):
        state.mark(each)
    state.flush()
    store.put_job("broken", {"id": "broken"}, {"state": "active"})
    store.close()

    again = BatchState(LocalBatchStore(tmp_path / "batch.sqlite"), clock=lambda: 2000.0)
    made: list[str] = []

    def make_pool(spec: PoolSpec) -> Pool:
        made.append(spec.id)
        return pool_nodes(spec, max_slots=4)

    unfinished = again.recover(make_pool)
    assert made == ["p"] and again.pools["p"].start_state == "pending", "a start task under way runs again"
    assert set(again.jobs) == {"j"}, "an unreadable job is skipped"
    assert again.jobs["j"].created == 5.0
    assert [(t.spec.id, t.state) for _, t in unfinished] == [("a", "running"), ("c", "active")]
    assert again.jobs["j"].tasks["b"].result == "success"
    [new] = again.insert_tasks(again.jobs["j"], [task("d")], kind="task")
    assert new.seq == 3, "sequence numbers continue after the recovered tasks"
    again.store.close()
