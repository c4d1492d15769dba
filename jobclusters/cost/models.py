"""What a cost looks like wherever it is shown: on a task run, on a run (plus its overhead lines), in an
estimate. A cost with no price is `estimate: null` and its `basis` says why, never zero."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def money(value: float) -> float:
    """Amounts are kept to a millionth of the currency unit, so sums printed and stored agree."""
    return round(value, 6)


def amount_text(value: float) -> str:
    """An amount as printed: four decimals, six below a cent so a small cost never reads as 0.0000."""
    return f"{value:.6f}" if 0 < abs(value) < 0.01 else f"{value:.4f}"


class Cost(_Model):
    currency: str = "USD"
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    basis: str = Field(description="what the figure was computed on, or why there is none")

    @classmethod
    def unpriced(cls, reason: str, currency: str = "USD") -> Cost:
        return cls(currency=currency, basis=f"no price: {reason}")


class OverheadLine(_Model):
    """Compute the run paid for that no task used, e.g. a shared job cluster's start-up and idle time."""

    what: str
    estimate: float | None = None


class RunCost(Cost):
    """A run's cost: its tasks' costs plus the overhead lines, so `estimate` is exactly their sum."""

    overhead: list[OverheadLine] = Field(default_factory=list)
    by_compute: dict[str, float] = Field(
        default_factory=dict, description="the priced tasks' estimates by compute (`costs --by compute`)"
    )
