"""Validation findings: each names the JSON path it is about and what was expected there."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.spec.model import Job

Severity = Literal["error", "warning"]


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str = Field(description="JSON path, e.g. $.tasks[1].depends_on[0].task_key")
    message: str
    severity: Severity = "error"
    code: str = Field(default="invalid", description="a stable kind: cycle, secret, cost-tags, ...")

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class Problems:
    """Collects findings while a definition is read; importers never raise on bad input."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def error(self, path: str, message: str, code: str = "invalid") -> None:
        self.items.append(Problem(path=path, message=message, severity="error", code=code))

    def warning(self, path: str, message: str, code: str = "warning") -> None:
        self.items.append(Problem(path=path, message=message, severity="warning", code=code))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]


class InvalidDefinition(ValueError):
    def __init__(self, errors: list[Problem]) -> None:
        super().__init__("; ".join(str(e) for e in errors[:5]) + (" ..." if len(errors) > 5 else ""))
        self.errors = errors


class LoadResult(BaseModel):
    """What `load_definition` found. `job` is set whenever the definition could be read into the model,
    even with errors (so `show` can display it); run only when `ok`."""

    job: Job | None = None
    errors: list[Problem] = Field(default_factory=list)
    warnings: list[Problem] = Field(default_factory=list)
    format: str = "unknown"

    @property
    def ok(self) -> bool:
        return self.job is not None and not self.errors

    def require(self) -> Job:
        """The job, or `InvalidDefinition` naming every error."""
        if self.job is None or self.errors:
            raise InvalidDefinition(self.errors or [Problem(path="$", message="not a job definition")])
        return self.job
