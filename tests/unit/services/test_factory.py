"""The factory is where local vs Azure is decided: each mode-dependent answer, per mode."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobclusters.services import factory
from jobclusters.services.run_events import ServiceBusTopicPublisher
from jobclusters.services.storage import storage_connection_string
from jobclusters.tracking.models import RunRecord
from localbus.store import LocalServiceBus
from tests.unit.execution.test_cluster_mapping import NEW_CLUSTER, run_input

SERVICE_BUS = (
    "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0"
)


@pytest.fixture
def mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("JOBCLUSTERS_MODE", "ServiceBusConnection", "AzureWebJobsStorage", "LOCALBUS_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    factory.reset()
    yield monkeypatch
    factory.reset()


def test_local_run_events_go_to_the_topic_of_the_hosting_devhost(
    mode: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mode.setenv("JOBCLUSTERS_MODE", "local")
    mode.setenv("JOBCLUSTERS_STATE_DIR", str(tmp_path / "app"))
    mode.setenv("LOCALBUS_STATE_DIR", str(tmp_path / "devhost"))
    bus = LocalServiceBus(tmp_path / "devhost")
    bus.create_topic("job-run-events")
    bus.create_subscription("job-run-events", "audit")
    publisher = factory.get_event_publisher()
    assert publisher is not None
    publisher.publish({"event": "start", "run_id": "r"}, message_id="r:start")
    [message] = bus.peek("job-run-events", "audit")
    assert (message.message_id, message.body_text()) == ("r:start", '{"event": "start", "run_id": "r"}')


def test_azure_run_events_need_a_service_bus_connection(mode: pytest.MonkeyPatch) -> None:
    mode.setenv("JOBCLUSTERS_MODE", "azure")
    assert factory.get_event_publisher() is None
    mode.setenv("ServiceBusConnection", SERVICE_BUS)
    factory.reset()
    assert isinstance(factory.get_event_publisher(), ServiceBusTopicPublisher)


def test_only_local_executors_share_this_filesystem_and_run_every_cluster_task(
    mode: pytest.MonkeyPatch,
) -> None:
    run = run_input({"payload": {"kind": "spark_python", "python_file": "a.py"}, "compute": NEW_CLUSTER})
    answers = {}
    for value in ("local", "azure"):
        mode.setenv("JOBCLUSTERS_MODE", value)
        factory.reset()
        answers[value] = (factory.executors_share_this_filesystem(), factory.cluster_backend(run))
    assert answers == {"local": (True, "local"), "azure": (False, "databricks")}


def test_the_storage_connection_spells_out_the_development_account(mode: pytest.MonkeyPatch) -> None:
    mode.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    spelled = storage_connection_string(factory.settings())
    assert "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;" in spelled
    mode.setenv("AzureWebJobsStorage", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k")
    factory.reset()
    given = storage_connection_string(factory.settings())
    assert given == "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k"


class _Runs:
    def get_run_with_tasks(self, run_id: str) -> tuple[RunRecord | None, list[object]]:
        return None, []


def test_trigger_services_are_the_factory_stores(mode: pytest.MonkeyPatch) -> None:
    runs, definitions = _Runs(), object()
    with factory.overridden(runs=runs, definitions=definitions):
        services = factory.trigger_services()
        assert (services.runs, services.definitions) == (runs, definitions)
        assert services is factory.trigger_services()
        assert asyncio.run(services.tracked_run("nothing")) is None
