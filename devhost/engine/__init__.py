"""The durable engine: the Durable extension's role (shim, history, backend) for one app, in one process."""

from __future__ import annotations

from devhost.engine.engine import DurableEngine, EngineStats, UnknownOrchestrator
from devhost.engine.shim import NonDeterminismError

__all__ = ["DurableEngine", "EngineStats", "NonDeterminismError", "UnknownOrchestrator"]
