"""The suites, written with the GX 1.x API; `python -m expectations.suites` writes their JSON.

The JSON files beside this module are what the gate loads and what reviewers diff; a test
fails when they drift from the definitions here. Severity is GX's own expectation field:
`critical` quarantines the batch, `warning` is recorded and the run goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe

HERE = Path(__file__).resolve().parent
CRITICAL, WARNING = "critical", "warning"
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
EMAIL = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"


def _not_in_future(column: str) -> gxe.UnexpectedRowsExpectation:
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=f"select * from {{batch}} where {column} > now()",
        description=f"{column} is not in the future",
        severity=CRITICAL,
    )


def typeform_responses() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="typeform_responses", expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="record_key", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeUnique(column="record_key", severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="submitted_at", severity=CRITICAL),
        gxe.ExpectColumnValuesToMatchRegex(column="submitted_at", regex=ISO_TIMESTAMP, severity=CRITICAL),
        _not_in_future("submitted_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="form_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="nps_type", value_set=["number"], severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="nps", min_value=0, max_value=10, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="csat", min_value=1, max_value=5, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="ces", min_value=1, max_value=7, severity=CRITICAL),
        gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL, severity=WARNING),
    ])


SUITES = {"typeform_responses": typeform_responses}


def suite_json(name: str) -> str:
    return json.dumps(SUITES[name]().to_json_dict(), indent=2, ensure_ascii=False) + "\n"


def write_all() -> list[Path]:
    written = []
    for name in SUITES:
        path = HERE / f"{name}.json"
        path.write_text(suite_json(name))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(f"wrote {path}")
