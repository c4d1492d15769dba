"""Issue 13 defect 2: infrastructure calls wait out an outage for a bounded time, with backoff, apart from
the task's own retry policy; then the run fails saying it was our outage. Messages carry no traceback and
no server path."""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobclusters.execution import registry
from jobclusters.execution.messages import BatchPollInput
from jobclusters.execution.public_errors import public_message
from jobclusters.execution.retry import InfraRetryPolicy, InfrastructureUnavailable, infra_retry_policy
from jobclusters.settings import get_settings
from orchestrators.common import failure_message, result_of

START = datetime(2026, 1, 1, tzinfo=UTC)
POLL = {"active": 0, "running": 0, "completed": 1, "succeeded": 1, "failed": 0}


class Ctx:
    """Answers activity calls from a list (an exception fails the call); timers move the clock."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.now = START
        self.timers: list[float] = []
        self.calls = 0

    @property
    def current_utc_datetime(self) -> datetime:
        return self.now

    def call_activity(self, name: str, input: Any = None) -> tuple[str, Any]:
        self.calls += 1
        return ("call", self.answers.pop(0))

    def create_timer(self, fire_at: datetime) -> tuple[str, Any]:
        self.timers.append((fire_at - self.now).total_seconds())
        self.now = fire_at
        return ("timer", None)


def drive(ctx: Ctx, gen: Generator[Any, Any, Any]) -> Any:
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        try:
            kind, value = gen.throw(thrown) if thrown is not None else gen.send(sent)
        except StopIteration as stop:
            return stop.value
        thrown, sent = None, None
        if kind == "call" and isinstance(value, BaseException):
            thrown = value
        else:
            sent = value


def poll(ctx: Ctx) -> Generator[Any, Any, Any]:
    return result_of(ctx, registry.BATCH_POLL, BatchPollInput(run_id="r", job_id="j"))


def test_the_policy_backs_off_to_a_cap_and_gives_up_at_the_bound() -> None:
    policy = InfraRetryPolicy(bound_seconds=60, first_seconds=1, max_interval_seconds=15)
    assert [policy.delay_seconds(n) for n in range(1, 7)] == [1, 2, 4, 8, 15, 15]
    assert not policy.gives_up(44, 6) and policy.gives_up(46, 6)
    assert policy.fixed_attempts(5) == 13


def test_the_bound_comes_from_the_settings(monkeypatch) -> None:
    monkeypatch.setenv("JOBCLUSTERS_INFRA_RETRY_SECONDS", "42")
    get_settings.cache_clear()
    try:
        assert infra_retry_policy().bound_seconds == 42
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_an_outage_shorter_than_the_bound_is_waited_out() -> None:
    ctx = Ctx([ConnectionError("storage down")] * 3 + [POLL])
    answer = drive(ctx, poll(ctx))
    assert answer.done and ctx.calls == 4
    assert ctx.timers == [1, 2, 4]


def test_an_outage_longer_than_the_bound_fails_saying_it_was_ours() -> None:
    bound = infra_retry_policy().bound_seconds
    ctx = Ctx([ConnectionError("storage down")] * 100)
    with pytest.raises(InfrastructureUnavailable) as caught:
        drive(ctx, poll(ctx))
    waited = sum(ctx.timers)
    assert waited <= bound < waited + 15 + 1
    assert str(caught.value).startswith("infrastructure unavailable: batch_poll kept failing for")
    assert "storage down" in str(caught.value)


@pytest.mark.parametrize(
    "reason",
    [
        "app setting BATCH_ACCOUNT_URL is missing: needed for Batch",
        "Activity function 'plan_inputs' failed: ValueError: fan_out.blob_prefix 'x' names no container",
        "Activity function 'batch_poll' failed: pydantic_core.ValidationError: 1 validation error",
    ],
)
def test_bad_input_a_missing_setting_or_a_bug_is_not_waited_out(reason: str) -> None:
    ctx = Ctx([RuntimeError(reason)])
    with pytest.raises(RuntimeError):
        drive(ctx, poll(ctx))
    assert ctx.calls == 1 and ctx.timers == []


SDK_FAILURE = (
    "Activity function 'batch_poll' failed: ConnectionError: cannot reach /srv/app/.state/batch/x.sqlite \n"
    '  File "/srv/app/activities/batch.py", line 12, in batch_poll\n'
    "    counts = service.get_task_counts(job_id)\n"
    "ConnectionError: cannot reach /srv/app/.state/batch/x.sqlite\n"
)


def test_messages_keep_the_reason_without_traceback_or_server_paths() -> None:
    message = failure_message(Exception(SDK_FAILURE))
    assert message == "Activity function 'batch_poll' failed: ConnectionError: cannot reach …/x.sqlite"
    trace_only = "Traceback (most recent call last):\n  File \"/a/b.py\", line 1\nKeyError: 'x'"
    assert public_message(trace_only) == "KeyError: 'x'"
    assert public_message("see http://127.0.0.1:10000/devstoreaccount1/c/d.txt") == (
        "see http://127.0.0.1:10000/devstoreaccount1/c/d.txt"
    )
    assert public_message(None) is None


def test_failures_retried_for_the_bound_take_timers_of_at_most_the_cap() -> None:
    ctx = Ctx([ConnectionError("x")] * 10 + [POLL])
    drive(ctx, poll(ctx))
    assert max(ctx.timers) == 15 and ctx.now - START == timedelta(seconds=sum(ctx.timers))
