"""File drops: each file once by content hash, columns mapped, bad lines rejected with a reason."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import psycopg
import pytest

from ingest import files, runner
from ingest.streams import Window
from simulators.company import Company
from simulators.files import DATASETS, write_drop

COMPANY = Company(customers=40, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
WINDOW = Window(COMPANY.end - (COMPANY.end - COMPANY.start), COMPANY.end)


@pytest.fixture
def drop(tmp_path, monkeypatch):
    folder = tmp_path / "drop"
    write_drop(COMPANY, folder)
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_FILES", json.dumps(
        {"conn_type": "fs", "extra": {"path": str(folder), "datasets": DATASETS}}))
    return folder


def run():
    return runner.run_source("files", WINDOW)[0]


def keys(db):
    return {k for (k,) in db.execute("select record_key from raw.files_records")}


def test_every_row_lands_with_mapped_columns_and_the_broken_line_is_rejected(db, drop):
    result = run()
    audits = max(5, COMPANY.customers // 20)
    surveys = max(5, COMPANY.customers // 10)
    assert (result.fetched, result.landed, result.rejected) == (audits + surveys + 1, audits + surveys, 1)
    assert keys(db) == ({f"audits:A-{n:05d}" for n in range(audits)}
                        | {f"offline_surveys:P-{n:05d}" for n in range(surveys)})
    row = db.execute("select record from raw.files_records where record_key = 'audits:A-00000'").fetchone()[0]
    assert {"audit_id", "store", "visited_at", "score", "email", "verbatim", "_file_sha256"} <= set(row)
    reason, original = db.execute("select reason, original from raw._rejected").fetchone()
    assert reason.startswith("unparseable line 6 of offline_survey_20260310.jsonl")
    assert '"_row": 6' in original


def test_a_file_is_read_once_even_when_dropped_again_under_another_name(db, drop):
    run()
    for path in list(drop.iterdir()):
        shutil.copy(path, drop / f"copy_of_{path.name}")
    again = run()
    assert (again.fetched, again.inserted, again.updated) == (0, 0, 0)
    assert db.execute("select count(*) from raw._files_loaded").fetchone() == (2,)


def test_a_corrected_export_replaces_the_rows_it_corrects(db, drop):
    run()
    audits = next(drop.glob("mystery_shopping_*.csv"))
    lines = audits.read_text().splitlines()
    header, first = lines[0], lines[1].split(",")
    first[2] = "2026-03-09T12:00:00Z"  # visited_at: later version of audit A-00000
    first[3] = "12"
    (drop / "mystery_shopping_fix.csv").write_text(header + "\n" + ",".join(first) + "\n")
    fix = run()
    assert (fix.fetched, fix.inserted, fix.updated) == (1, 0, 1)
    score = db.execute("select record->>'score' from raw.files_records where record_key = 'audits:A-00000'")
    assert score.fetchone() == ("12",)


def test_a_batch_that_fails_records_no_file_as_loaded(db, drop, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(files.FilesSource, "on_landed", explode)
    with pytest.raises(RuntimeError):
        run()
    monkeypatch.undo()
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_FILES", json.dumps(
        {"conn_type": "fs", "extra": {"path": str(drop), "datasets": DATASETS}}))
    assert run().landed > 0


def test_a_missing_folder_is_a_clear_error(db, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_FILES", json.dumps({"conn_type": "fs", "extra": {
        "path": str(tmp_path / "nowhere")}}))
    with pytest.raises(FileNotFoundError, match="drop folder .* does not exist"):
        run()


def test_the_ledger_is_read_through_the_connection_the_runner_hands_over(db, drop):
    source = runner.build_source("files")
    stream = files.STREAMS[0]
    audits = next(drop.glob("mystery_shopping_*.csv"))
    with db.transaction():
        # Not committed: only a read through this very connection can see that the file is loaded.
        db.execute("insert into raw._files_loaded (sha256, path, dataset, rows, batch_id) "
                   "values (%s, %s, 'audits', 1, gen_random_uuid())", (files._sha256(audits), audits.name))
        source.before_read(db, stream)
        read = {record["_file"] for page in source.read(stream, WINDOW) for record in page}
        raise psycopg.Rollback()
    assert audits.name not in read
    assert read  # the other files of the drop are read
