"""What a validation found, and the suites it is judged by, as the gate and Data Docs both read them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from expectations.definitions import SUITES_DIR


@dataclass
class Failure:
    expectation: str
    column: str | None
    severity: str
    observed_value: Any
    unexpected_count: int | None
    sample: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        subject = f" on {self.column}" if self.column else ""
        seen = self.unexpected_count if self.unexpected_count is not None else self.observed_value
        sample = f", e.g. {self.sample[:5]}" if self.sample else ""
        return f"[{self.severity}] {self.expectation}{subject}: observed {seen}{sample}"


@dataclass
class Validation:
    validation_id: str
    batch_id: str | None  # None for a mart suite
    suite: str
    rows: int
    evaluated: int
    failures: list[Failure]
    result: dict = field(default_factory=dict, repr=False)  # GX's own result, for Data Docs

    @property
    def critical(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "critical"]

    @property
    def warnings(self) -> list[Failure]:
        return [f for f in self.failures if f.severity != "critical"]

    @property
    def outcome(self) -> str:
        return "quarantined" if self.critical else "warned" if self.warnings else "passed"

    def summary(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "suite": self.suite, "outcome": self.outcome, "rows": self.rows,
                "evaluated": self.evaluated, "critical": len(self.critical), "warnings": len(self.warnings)}


def load_suite(name: str):
    """The suite `name` as GX objects, from its reviewed JSON in `suites/`."""
    import great_expectations as gx

    path = SUITES_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no suite for stream {name}: expected {path}")
    definition = json.loads(path.read_text())
    suite = gx.ExpectationSuite(**definition)
    # GX logs and drops an expectation whose type it does not know: a typo must not weaken the gate.
    if len(suite.expectations) != len(definition["expectations"]):
        known = {e.expectation_type for e in suite.expectations}
        unknown = [e["type"] for e in definition["expectations"] if e["type"] not in known]
        raise ValueError(f"suite {path.name} has expectations GX does not know: {unknown}")
    return suite
