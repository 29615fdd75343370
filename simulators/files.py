"""A sample file drop from the synthetic company: mystery-shopping audits (CSV) and offline
survey answers (JSONL), with the dataset config that maps them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from simulators.company import VERBATIMS, Company, iso

DATASETS = {
    "audits": {"pattern": "mystery_shopping_*.csv", "key": "audit_id", "updated_at": "visited_at",
               "columns": {"Audit ID": "audit_id", "Store": "store", "Visited at": "visited_at",
                           "Score (0-100)": "score", "Shopper email": "email", "Notes": "verbatim"}},
    "offline_surveys": {"pattern": "offline_survey_*.jsonl", "key": "response_id", "updated_at": "answered_at"},
}


def write_drop(company: Company, folder: Path, *, broken_line: bool = True) -> list[Path]:
    """Write the company's sample drop into `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    audits = folder / f"mystery_shopping_{company.end:%Y%m%d}.csv"
    with audits.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(DATASETS["audits"]["columns"]))
        for number in range(max(5, company.customers // 20)):
            rng = company.rng("audit", number)
            person = company.person(rng.randrange(company.customers))
            score = rng.randint(40, 100)
            mood = "pos" if score >= 80 else "neu" if score >= 60 else "neg"
            writer.writerow([f"A-{number:05d}", f"Store {rng.randrange(12):02d}", iso(company.moment(rng)),
                             score, company.spelled_email(person, "files"), VERBATIMS[person.language][mood]])
    surveys = folder / f"offline_survey_{company.end:%Y%m%d}.jsonl"
    with surveys.open("w", encoding="utf-8") as handle:
        for number in range(max(5, company.customers // 10)):
            rng = company.rng("offline", number)
            person = company.person(rng.randrange(company.customers))
            handle.write(json.dumps({
                "response_id": f"P-{number:05d}", "answered_at": iso(company.moment(rng)),
                "channel": "in_person", "nps": rng.choices(range(11), weights=[3, 1, 1, 2, 2, 4, 6, 10, 15, 24, 32])[0],
                "email": company.spelled_email(person, "files"), "language": person.language,
            }, ensure_ascii=False) + "\n")
        if broken_line:
            # A paper form typed in by hand and cut off: it must be rejected with its reason, not lost.
            handle.write('{"response_id": "P-BROKEN", "answered_at": "2026-01-0\n')
    return [audits, surveys]
