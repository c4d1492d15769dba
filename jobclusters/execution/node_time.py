"""Node time seen while an attempt is polled: each poll reads the pool's node count and folds it in.

The count between two polls is taken as the one the earlier poll saw (a step function): a resize or an
eviction counts from the poll that sees it. The state is a fixed set of numbers, never a list of
samples, because it travels in the orchestrator's state through every poll and every continue_as_new.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NodeTime(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    samples: int = Field(default=0, ge=0)
    first_at: datetime | None = None
    last_at: datetime | None = None
    last_nodes: int = Field(default=0, ge=0)
    node_seconds: float = Field(default=0.0, ge=0)
    nodes_min: int | None = None
    nodes_max: int | None = None

    def observe(self, nodes: int, at: datetime) -> NodeTime:
        """This state with one more sample; a sample older than the last (a retried poll) adds no time."""
        nodes = max(0, nodes)
        added = 0.0
        if self.last_at is not None:
            added = max(0.0, (at - self.last_at).total_seconds()) * self.last_nodes
        last_at = at if self.last_at is None else max(at, self.last_at)
        return NodeTime(
            samples=self.samples + 1,
            first_at=self.first_at or at,
            last_at=last_at,
            last_nodes=nodes if last_at == at else self.last_nodes,
            node_seconds=self.node_seconds + added,
            nodes_min=nodes if self.nodes_min is None else min(self.nodes_min, nodes),
            nodes_max=nodes if self.nodes_max is None else max(self.nodes_max, nodes),
        )

    @property
    def observed_seconds(self) -> float:
        if self.first_at is None or self.last_at is None:
            return 0.0
        return (self.last_at - self.first_at).total_seconds()

    def compute_fields(self) -> dict[str, float | int | None]:
        """What the attempt's row records (`ComputeInfo`); empty before the first sample."""
        if not self.samples:
            return {}
        return {
            "node_seconds": round(self.node_seconds, 3),
            "observed_seconds": round(self.observed_seconds, 3),
            "nodes_seen_min": self.nodes_min,
            "nodes_seen_max": self.nodes_max,
            "nodes_last": self.last_nodes,
        }


def node_time_of(samples: Iterable[tuple[datetime, int]]) -> NodeTime:
    """The node time of (time, nodes) samples a service reported at once (cluster events)."""
    state = NodeTime()
    for at, nodes in samples:
        state = state.observe(nodes, at)
    return state


def with_measured(compute_info: dict[str, Any] | None, measured: dict[str, Any]) -> dict[str, Any] | None:
    """The attempt's compute with what was measured of it; nothing to add to no compute."""
    if compute_info is None or not measured:
        return compute_info
    return {**compute_info, **measured}
