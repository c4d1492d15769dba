"""Node time integrated from the node counts the polls of an attempt see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobclusters.execution.node_time import NodeTime

T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def seen(*samples: tuple[int, int]) -> NodeTime:
    """(seconds after T0, nodes) folded in order."""
    state = NodeTime()
    for at, nodes in samples:
        state = state.observe(nodes, T0 + timedelta(seconds=at))
    return state


@pytest.mark.parametrize(
    ("samples", "node_seconds", "observed", "low", "high", "last"),
    [
        pytest.param([(0, 3), (60, 3), (120, 3)], 360, 120, 3, 3, 3, id="constant"),
        pytest.param([(0, 2), (60, 5), (120, 5)], 2 * 60 + 5 * 60, 120, 2, 5, 5, id="resize mid-attempt"),
        pytest.param([(0, 4), (30, 0), (90, 0)], 4 * 30, 90, 0, 4, 0, id="spot eviction to 0"),
        pytest.param([(10, 2)], 0, 0, 2, 2, 2, id="one sample"),
        pytest.param([(0, 1), (60, 3), (30, 9)], 60, 60, 1, 9, 3, id="an older sample adds no time"),
    ],
)
def test_node_time_is_the_step_integral_of_the_samples(
    samples: list[tuple[int, int]], node_seconds: float, observed: float, low: int, high: int, last: int
) -> None:
    state = seen(*samples)
    assert state.node_seconds == pytest.approx(node_seconds)
    assert state.observed_seconds == pytest.approx(observed)
    assert (state.nodes_min, state.nodes_max, state.last_nodes) == (low, high, last)
    assert state.samples == len(samples)


def test_the_state_is_bounded_and_travels_as_json() -> None:
    many = seen(*[(i, i % 3) for i in range(500)])
    again = NodeTime.model_validate_json(many.model_dump_json())
    assert again == many
    assert len(many.model_dump_json()) < 300, "a fixed set of numbers, however many polls"
    assert NodeTime().compute_fields() == {}
    assert many.compute_fields()["nodes_seen_max"] == 2


class _Events:
    def __init__(self, samples: list[tuple[datetime, int]] | Exception) -> None:
        self.samples = samples

    def node_samples(self, handle: object) -> list[tuple[datetime, int]]:
        if isinstance(self.samples, Exception):
            raise self.samples
        return self.samples


def test_finishing_a_cluster_attempt_records_its_events_node_time_or_nothing() -> None:
    from activities.cluster import _measured
    from jobclusters.services.cluster import RunHandle, ServiceUnavailable

    handle = RunHandle(backend="databricks", run_id="7", idempotency_key="k")
    samples = [(T0, 2), (T0 + timedelta(seconds=100), 6), (T0 + timedelta(seconds=200), 6)]
    assert _measured(_Events(samples), handle) == {
        "node_seconds": 800.0,
        "observed_seconds": 200.0,
        "nodes_seen_min": 2,
        "nodes_seen_max": 6,
        "nodes_last": 6,
    }
    assert _measured(_Events([]), handle) == {}
    assert _measured(_Events(ServiceUnavailable("throttled")), handle) == {}, "a failed read loses only that"
    assert _measured(object(), handle) == {}, "a service without events (local, Synapse) measures nothing"
