"""File drops: CSV and JSONL exports left in a folder (other tools, mystery-shopping audits,
offline surveys).

Connection `cxloop_files`, extra:

    {"path": "/data/drops",
     "datasets": {"audits": {"pattern": "audits*.csv", "key": "audit_id", "updated_at": "visited_at",
                             "columns": {"Audit ID": "audit_id", "Visited": "visited_at"}}}}

Each file matching a dataset's glob is read once: its SHA-256 goes into `raw._files_loaded` in
the same transaction as its rows, so a file dropped again (same bytes, any name) is skipped and
a file that failed half-way is read again next run. The runner hands over that transaction's
connection (`before_read`, `on_landed`): the ledger is read and written where the rows land.
Rows keep every column, renamed by `columns`. A dataset with a `key` column lands one row per
key (a corrected re-export replaces the old rows); without one, a row's key is the file's hash
and its line number. Files not matched by any dataset fall into the `default` dataset when
their name ends in .csv or .jsonl.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import psycopg

from ingest.connections import source_connection
from ingest.streams import BatchResult, Record, RecordError, Source, Stream, Window

CONN_ID = "cxloop_files"
PAGE_ROWS = 5000
def _key(record: Record) -> str:
    if "_error" in record:
        raise RecordError(f"unparseable line {record['_row']} of {record['_file']}: {record['_error']}")
    return record["_key"]


STREAMS = (
    Stream(source="files", name="records", key=_key, updated_at=lambda r: r["_updated_at"]),
)


@dataclass(frozen=True)
class Dataset:
    name: str
    pattern: str
    key: str | None = None
    updated_at: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class FilesSource(Source):
    folder: Path
    datasets: list[Dataset]
    name: str = "files"
    streams: tuple[Stream, ...] = STREAMS
    _loaded: set[str] = field(default_factory=set)  # hashes in the ledger when the batch began
    _read: list[tuple[str, str, str, int]] = field(default_factory=list)  # sha, path, dataset, rows

    def dataset_for(self, path: Path) -> Dataset | None:
        for dataset in self.datasets:
            if fnmatch(path.name, dataset.pattern):
                return dataset
        if path.suffix.lower() in (".csv", ".jsonl"):
            return Dataset("default", "*")
        return None

    def before_read(self, conn: psycopg.Connection, stream: Stream) -> None:
        """Note the files already loaded, in the batch's transaction (after the runner's per-stream lock)."""
        self._loaded = {sha for (sha,) in conn.execute("select sha256 from raw._files_loaded")}

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        if not self.folder.is_dir():
            raise FileNotFoundError(f"connection {CONN_ID}: drop folder {self.folder} does not exist")
        loaded = self._loaded
        self._read.clear()
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            dataset = self.dataset_for(path)
            if dataset is None:
                continue
            sha = _sha256(path)
            if sha in loaded or any(sha == seen[0] for seen in self._read):
                continue
            rows = 0
            page: list[Record] = []
            for record in self._records(path, sha, dataset):
                rows += 1
                page.append(record)
                if len(page) >= PAGE_ROWS:
                    yield page
                    page = []
            if page:
                yield page
            self._read.append((sha, str(path.relative_to(self.folder)), dataset.name, rows))

    def _records(self, path: Path, sha: str, dataset: Dataset) -> Iterator[Record]:
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).isoformat()
        meta = {"_file": str(path.relative_to(self.folder)), "_file_sha256": sha, "_dataset": dataset.name}
        for row_number, row in self._rows(path):
            if isinstance(row, Exception):
                yield {**meta, "_row": row_number, "_error": str(row)}
                continue
            fields = {dataset.columns.get(k, k): v for k, v in row.items()}
            key = fields.get(dataset.key) if dataset.key else f"{sha[:16]}:{row_number}"
            yield {
                **fields, **meta, "_row": row_number,
                "_key": f"{dataset.name}:{key}" if key not in (None, "") else None,
                "_updated_at": fields.get(dataset.updated_at) if dataset.updated_at else modified,
            }

    @staticmethod
    def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if path.suffix.lower() == ".jsonl":
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, exc
                        continue
                    yield number, value if isinstance(value, dict) else ValueError("line is not a JSON object")
            else:
                for number, row in enumerate(csv.DictReader(handle), start=2):  # line 1 is the header
                    if None in row:
                        yield number, ValueError(f"{len(row[None])} more values than header columns")
                    else:
                        yield number, row

    def on_landed(self, conn: psycopg.Connection, result: BatchResult) -> None:
        """Record the files read, in the batch's own transaction: a failed batch records none."""
        for sha, path, dataset, rows in self._read:
            conn.execute(
                "insert into raw._files_loaded (sha256, path, dataset, rows, batch_id) values (%s, %s, %s, %s, %s) "
                "on conflict (sha256) do nothing",
                (sha, path, dataset, rows, result.batch_id),
            )


def from_connection(conn: Any) -> FilesSource:
    extra = source_connection(conn, CONN_ID).extra
    if not extra.get("path"):
        raise ValueError(f"connection {CONN_ID}: extra.path must name the drop folder")
    datasets = [Dataset(name=name, pattern=spec.get("pattern", f"{name}*"), key=spec.get("key"),
                        updated_at=spec.get("updated_at"), columns=dict(spec.get("columns") or {}))
                for name, spec in (extra.get("datasets") or {}).items()]
    return FilesSource(folder=Path(extra["path"]), datasets=datasets)
