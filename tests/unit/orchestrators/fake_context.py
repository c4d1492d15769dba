"""A fake Durable orchestration context and a driver that runs a REAL orchestrator generator against it.

The driver answers every yielded task the way the Durable replay would hand results back: an activity or
sub-orchestration is answered by the test's `answer` function (a raised exception fails the task, `PENDING`
leaves it running), a timer fires by moving the virtual clock to its fire time, `task_all` answers each
child, and `task_any` picks a winner in the order a real run would see one: a task already done, an
external event the test raised, a timer due now, a task the test answers, else the earliest timer.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

PENDING = object()


@dataclass(eq=False)
class FakeTask:
    kind: str
    name: str = ""
    input: Any = None
    instance_id: str | None = None
    retry: Any = None
    fire_at: datetime | None = None
    children: list[FakeTask] = field(default_factory=list)
    is_completed: bool = False
    result: Any = None
    canceled: bool = False

    def cancel(self) -> None:
        self.canceled = True

    def complete(self, result: Any) -> None:
        self.is_completed, self.result = True, result


@dataclass
class Call:
    """One scheduled activity or sub-orchestration, in scheduling order."""

    kind: str
    name: str
    input: Any
    retry: Any = None
    instance_id: str | None = None


class FakeContext:
    def __init__(self, input: Any, *, now: datetime, instance_id: str = "instance") -> None:
        self._input = input
        self.now = now
        self.instance_id = instance_id
        self.calls: list[Call] = []
        self.timers: list[datetime] = []
        self.statuses: list[Any] = []
        self.continued_with: Any = None
        self.events: dict[str, Any] = {}

    # ---------------------------------------------------------------- the context API orchestrators use

    @property
    def current_utc_datetime(self) -> datetime:
        return self.now

    def get_input(self) -> Any:
        return self._input

    def set_custom_status(self, status: Any) -> None:
        self.statuses.append(status)

    def continue_as_new(self, input: Any) -> None:
        self.continued_with = input

    def call_activity(self, name: str, input: Any = None) -> FakeTask:
        self.calls.append(Call("activity", name, input))
        return FakeTask("activity", name, input)

    def call_activity_with_retry(self, name: str, retry: Any, input: Any = None) -> FakeTask:
        self.calls.append(Call("activity", name, input, retry=retry))
        return FakeTask("activity", name, input, retry=retry)

    def call_sub_orchestrator(self, name: str, input: Any = None, instance_id: str | None = None) -> FakeTask:
        self.calls.append(Call("orchestrator", name, input, instance_id=instance_id))
        return FakeTask("orchestrator", name, input, instance_id=instance_id)

    def create_timer(self, fire_at: datetime) -> FakeTask:
        self.timers.append(fire_at)
        return FakeTask("timer", fire_at=fire_at)

    def wait_for_external_event(self, name: str) -> FakeTask:
        return FakeTask("event", name)

    def task_any(self, tasks: list[FakeTask]) -> FakeTask:
        return FakeTask("any", children=list(tasks))

    def task_all(self, tasks: list[FakeTask]) -> FakeTask:
        return FakeTask("all", children=list(tasks))

    # ---------------------------------------------------------------- test helpers

    def raise_event(self, name: str, value: Any = None) -> None:
        """Delivered to the next `task_any` that waits on the event."""
        self.events[name] = value

    def names(self, kind: str = "activity") -> list[str]:
        return [c.name for c in self.calls if c.kind == kind]

    def inputs(self, name: str) -> list[Any]:
        return [c.input for c in self.calls if c.name == name]


Answer = Callable[[FakeTask], Any]


class Driver:
    def __init__(self, context: FakeContext, answer: Answer) -> None:
        self.context = context
        self.answer = answer

    def _fire(self, timer: FakeTask) -> FakeTask:
        assert timer.fire_at is not None
        self.context.now = max(self.context.now, timer.fire_at)
        timer.complete(None)
        return timer

    def _settle(self, task: FakeTask) -> bool:
        """Answer a leaf task; False when the test leaves it running."""
        try:
            value = self.answer(task)
        except Exception as exc:
            task.complete(exc)
            return True
        if value is PENDING:
            return False
        task.complete(value)
        return True

    def _winner(self, tasks: list[FakeTask]) -> FakeTask:
        for task in tasks:
            if task.is_completed:
                return task
        for task in tasks:
            if task.kind == "event" and task.name in self.context.events:
                task.complete(self.context.events.pop(task.name))
                return task
        for task in tasks:
            if task.kind == "timer" and task.fire_at is not None and task.fire_at <= self.context.now:
                return self._fire(task)
        for task in tasks:
            if task.kind in ("activity", "orchestrator") and self._settle(task):
                return task
        timers = [t for t in tasks if t.kind == "timer"]
        if not timers:
            raise AssertionError("task_any waits on nothing that can finish")
        return self._fire(min(timers, key=lambda t: t.fire_at or self.context.now))

    def resolve(self, task: FakeTask) -> Any:
        """The value the orchestrator receives for `task`; raises what the replay would throw."""
        if task.kind == "timer":
            return self._fire(task).result
        if task.kind == "any":
            return self._winner(task.children)
        if task.kind == "all":
            for child in task.children:
                if not child.is_completed and not self._settle(child):
                    raise AssertionError(f"task_all child {child.name} left pending")
            for child in task.children:
                if isinstance(child.result, Exception):
                    raise child.result
            return [child.result for child in task.children]
        if task.kind == "event":
            if task.name not in self.context.events:
                raise AssertionError(f"waiting for event {task.name} that the test never raises")
            task.complete(self.context.events.pop(task.name))
            return task.result
        if not self._settle(task):
            raise AssertionError(f"{task.name} yielded alone but left pending")
        if isinstance(task.result, Exception):
            raise task.result
        return task.result


def drive(orchestrator: Any, context: FakeContext, answer: Answer) -> Any:
    """Run the orchestrator to its return (or to continue_as_new) and give its output."""
    function = _generator_function(orchestrator)
    generator: Generator[Any, Any, Any] = function(context)
    driver = Driver(context, answer)
    try:
        task = next(generator)
        while True:
            try:
                value = driver.resolve(task)
            except AssertionError:
                raise
            except Exception as exc:
                task = generator.throw(exc)
                continue
            task = generator.send(value)
    except StopIteration as stop:
        return stop.value


def _generator_function(orchestrator: Any) -> Callable[[Any], Generator[Any, Any, Any]]:
    """The user generator under the Functions decorators (a builder wrapping the SDK's handle)."""
    handle = orchestrator.build().get_user_function() if hasattr(orchestrator, "build") else orchestrator
    function: Callable[[Any], Generator[Any, Any, Any]] = getattr(handle, "orchestrator_function", handle)
    return function


def after(start: datetime, **delta: float) -> datetime:
    return start + timedelta(**delta)
