"""Great Expectations Data Docs for the gate's validations, as a static HTML site.

Each validation's GX result is kept as one JSON file under `$CXLOOP_HOME/gx/validations/`
(a file per result, so parallel validation tasks never write the same file); `build()` loads
the suites and the recent results into an in-memory context and renders the site into
`$CXLOOP_HOME/data_docs/`. Results older than the retention are dropped, so a build costs the
same after a year of nightly runs as after a week.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from expectations import definitions
from expectations.validation import Validation, load_suite
from ingest import settings

log = logging.getLogger(__name__)

SITE_NAME = "cxloop"
RETENTION = timedelta(days=int(os.environ.get("CXLOOP_DATA_DOCS_RETENTION_DAYS", "30")))


def results_dir() -> Path:
    return settings.cxloop_home() / "gx" / "validations"


def site_dir() -> Path:
    return settings.cxloop_home() / "data_docs"


def keep(validation: Validation) -> Path:
    """Store one validation's GX result for the next build of the site."""
    folder = results_dir() / validation.suite
    folder.mkdir(parents=True, exist_ok=True)
    evaluated_at = datetime.now(UTC)
    record = {"suite": validation.suite, "batch_id": validation.batch_id,
              "validation_id": validation.validation_id, "evaluated_at": evaluated_at.isoformat(),
              "result": validation.result}
    path = folder / f"{evaluated_at:%Y%m%dT%H%M%S%f}-{validation.validation_id}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, default=str))
    partial.replace(path)  # atomic: a build never reads half a file
    return path


def _recent_results(now: datetime) -> list[dict]:
    kept = []
    for path in sorted(results_dir().glob("*/*.json")):
        record = json.loads(path.read_text())
        if now - datetime.fromisoformat(record["evaluated_at"]) > RETENTION:
            path.unlink()
            continue
        kept.append(record)
    return kept


def build() -> Path:
    """Render the site from the suites and the kept results; returns the path of its index.html."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    site = site_dir()
    shutil.rmtree(site, ignore_errors=True)  # pages of dropped results must go too
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(site_name=SITE_NAME, site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    for name in definitions.SUITES:
        context.suites.add(load_suite(name))
    store = context.validation_results_store
    results = _recent_results(datetime.now(UTC))
    for record in results:
        run = RunIdentifier(run_name=record["batch_id"] or "marts",
                            run_time=datetime.fromisoformat(record["evaluated_at"]))
        key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=record["suite"]),
                                         run_id=run, batch_identifier=record["batch_id"] or record["suite"])
        store.set(key, store.deserialize(json.dumps(record["result"])))
    context.build_data_docs(site_names=[SITE_NAME])
    index = site / "index.html"
    log.info("Data Docs: %d suites, %d validation results: %s", len(definitions.SUITES), len(results), index)
    return index
