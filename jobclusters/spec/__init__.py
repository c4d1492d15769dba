"""The typed job model, its importers, validation, lint, templating and DAG rules."""

from __future__ import annotations

from jobclusters.spec.dag import DagStep, Simulation, next_step, repair_set, run_result, simulate
from jobclusters.spec.loader import load_definition
from jobclusters.spec.model import (
    ClusterSpec,
    Compute,
    ComputeMode,
    Dependency,
    DependencyCondition,
    EngineRules,
    Job,
    RetryPolicy,
    RunIf,
    RunResult,
    Task,
    TaskState,
)
from jobclusters.spec.modes import cluster_mode
from jobclusters.spec.problems import InvalidDefinition, LoadResult, Problem
from jobclusters.spec.templating import TemplateContext, TemplateError, find_references, render

__all__ = [
    "ClusterSpec",
    "Compute",
    "ComputeMode",
    "DagStep",
    "Dependency",
    "DependencyCondition",
    "EngineRules",
    "InvalidDefinition",
    "Job",
    "LoadResult",
    "Problem",
    "RetryPolicy",
    "RunIf",
    "RunResult",
    "Simulation",
    "Task",
    "TaskState",
    "TemplateContext",
    "TemplateError",
    "cluster_mode",
    "find_references",
    "load_definition",
    "next_step",
    "render",
    "repair_set",
    "run_result",
    "simulate",
]
