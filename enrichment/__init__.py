"""Enrichment of verbatims: language, sentiment and topics, computed offline in Python.

This package reads text that has already landed and returns what it found; it never fetches
anything at run time. `heldout/verbatims.csv` is the labelled set every enrichment step is
measured against (docs/verbatims.md says how it was written).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

HELDOUT_CSV = Path(__file__).parent / "heldout" / "verbatims.csv"
# The topics the held-out set is labelled with, which the starter taxonomy covers in every language.
STARTER_TOPICS = frozenset({"delivery", "price", "billing", "support_speed", "staff_attitude", "product_quality",
                            "app_website", "returns_refunds", "onboarding"})


@dataclass(frozen=True)
class LabelledVerbatim:
    """One row of the held-out set: a verbatim and the labels a person gave it."""

    id: str
    language: str
    text: str
    sentiment: str
    topics: tuple[str, ...]


def read_heldout(path: Path = HELDOUT_CSV) -> list[LabelledVerbatim]:
    """The held-out labelled verbatims, in file order."""
    with path.open(encoding="utf-8", newline="") as f:
        return [
            LabelledVerbatim(
                id=row["id"],
                language=row["language"],
                text=row["text"],
                sentiment=row["sentiment"],
                topics=tuple(t for t in row["topics"].split(";") if t),
            )
            for row in csv.DictReader(f)
        ]
