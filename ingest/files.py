"""File drops: CSV and JSONL exports left in a folder (other tools, mystery-shopping audits,
offline surveys).

Connection `cxloop_files`, extra:

    {"path": "/data/drops",
     "datasets": {"audits": {"pattern": "audits*.csv", "key": "audit_id", "updated_at": "visited_at",
                             "columns": {"Audit ID": "audit_id", "Visited": "visited_at"},
                             "encoding": "cp1252"}}}

Each file matching a dataset's glob is read once: its SHA-256 goes into `raw._files_loaded` in
the same transaction as its rows, so a file dropped again (same bytes, any name) is skipped and
a file that failed half-way is read again next run. The runner hands over that transaction's
connection (`before_read`, `on_landed`): the ledger is read and written where the rows land.
Rows keep every column, renamed by `columns`. A dataset with a `key` column lands one row per
key (a corrected re-export replaces the old rows); without one, a row's key is the file's hash
and its line number. Files not matched by any dataset fall into the `default` dataset when
their name ends in .csv or .jsonl.

Nothing in a file is lost silently and nothing in one file stops the others from landing:
every line lands or becomes a row of `raw._rejected` whose reason names the file and the line.

- A file is decoded with its dataset's `encoding` (default UTF-8, a leading byte-order mark
  dropped). A file that does not decode is rejected whole, with the offset of its first bad byte.
- CSV is parsed strictly: a row with more or fewer values than the header, or a quote that does
  not close where a quoted value can end, is rejected and parsing starts again at the line after
  the one the bad row began on. A quoted value may hold line breaks, but a quote left open is
  told from one by what it swallows: a record spanning lines is refused when one of the lines
  inside it reads, on its own, as a whole row (the header's width, and a key and updated-at where
  the dataset has them), or when both its first and its last line do. `csv` is used for the
  parsing itself; the re-synchronising around it is written here because `csv` neither tells an
  unbalanced quote from a multi-line value nor lets a reader back up to the next line.
- A row's updated-at that is missing, not a timestamp, or out of range is a reject, as is a row
  PostgreSQL cannot store (a NUL character, an unpaired surrogate, more than a jsonb holds).
- Only regular files are read. A symbolic link, to a file or a folder, is never followed: it is
  refused with a reject row naming it (and a warning in the log), as is a pipe or device whose
  name matches a dataset. A reject rather than a note in the ledger, because a reject is where a
  user already looks for what did not land: the run's summary line names its reason, the batch's
  `rejected` count in `audit.load_batches` includes it, and it comes back with every run for as
  long as the link is there, where a ledger note would be written once and never read.
- A file goes into the ledger only when it landed: at least one of its rows landed, or it holds
  no rows at all. A file whose every row (or the file as a whole) was rejected stays out of the
  ledger and is read again by every run, so fixing the dataset's config (its key, its encoding)
  lands it; until then every run's batch holds its rejects again.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from io import BytesIO, TextIOWrapper
from pathlib import Path
from typing import IO, Any

import psycopg

from ingest.connections import source_connection
from ingest.streams import BatchResult, Record, RecordError, Source, Stream, Window, parse_timestamp

log = logging.getLogger(__name__)

CONN_ID = "cxloop_files"
PAGE_ROWS = 5000
# The most a jsonb value holds (2^28 - 1 bytes): no value is refused below it. `csv` refuses a
# field over its limit (128 KiB by default), so the limit is raised to this; a row over it is
# rejected here, where it would otherwise fail the COPY and the whole batch with it.
MAX_ROW_BYTES = (1 << 28) - 1
# How much of a rejected line its reject keeps, to find it in the file.
EXCERPT_CHARS = 200
# What every landed row gets besides its columns; a column of one of these names would be lost.
RESERVED = frozenset({"_file", "_file_sha256", "_dataset", "_row", "_key", "_updated_at", "_error", "_line"})
# A JSON escape of a UTF-16 surrogate, which only a pair of them makes text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_UTF8_BOM = codecs.BOM_UTF8


def _key(record: Record) -> str:
    if "_error" in record:
        raise RecordError(record["_error"])
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
    encoding: str = "utf-8"

    @property
    def codec(self) -> str:
        """Python's name for the encoding (UTF-8 as utf-8-sig: spreadsheet exports start with a BOM)."""
        name = codecs.lookup(self.encoding).name
        return "utf-8-sig" if name == "utf-8" else name


def _open(path: Path) -> IO[bytes]:
    """`path` opened for reading when it is a regular file; never through a symbolic link."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{_printable(path)} is not a regular file")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with _open(path) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _printable(path: Path | str) -> str:
    """A path as text that can be stored: bytes of a name that are not UTF-8 become \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _undecodable(path: Path, dataset: Dataset) -> str | None:
    """Why `path` is not text in the dataset's encoding (with the offset of the first bad byte), or None."""
    codec = "utf-8" if dataset.codec == "utf-8-sig" else dataset.codec
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset = 0
    with _open(path) as handle:
        first = handle.read(1 << 20)
        if codec == "utf-8" and first.startswith(_UTF8_BOM):
            first, offset = first[len(_UTF8_BOM):], len(_UTF8_BOM)
        chunk = first
        while True:
            pending = len(decoder.getstate()[0])  # bytes of a character the last chunk cut in two
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = offset - pending + exc.start
                hint = ""
                if codec == "utf-8" and first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                    hint = " (the file starts with a UTF-16 byte-order mark)"
                return (f"not {dataset.encoding} text{hint}: {exc.reason}, byte 0x{exc.object[exc.start]:02x} "
                        f"at byte offset {at}; declare the dataset's \"encoding\" in connection {CONN_ID} "
                        "or re-export the file as UTF-8")
            if not chunk:
                return None
            offset += len(chunk)
            chunk = handle.read(1 << 20)


def _timestamp_problem(value: Any) -> str | None:
    """Why `value` is not an updated-at the warehouse can store, or None."""
    if value is None:
        return "is missing"
    if value == "":
        return "is empty"
    try:
        parse_timestamp(value)
    except RecordError as exc:
        what = "out of range" if "out of range" in str(exc) else "not a timestamp"
        return f"holds {_short(value)}, which is {what}"
    except (ValueError, OverflowError, OSError):  # NaN, 1e20 seconds, a year past 9999 once in UTC
        return f"holds {_short(value)}, which is out of range"
    return None


def _unstorable(fields: dict[str, Any], text: str) -> str | None:
    """Why PostgreSQL cannot store a row read from `text`, or None; encodes it only when `text` hints so."""
    if not ("\x00" in text or "u0000" in text or ("\\" in text and _SURROGATE_ESCAPE.search(text))
            or len(text) > MAX_ROW_BYTES // 8):
        return None
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), default=str)
    if "\\u0000" in encoded:  # the loader's own test, so that the row is rejected here, by line
        return "holds a NUL character (or the text \\u0000), which PostgreSQL cannot store"
    try:
        size = len(encoded.encode())
    except UnicodeEncodeError:
        return "holds an unpaired UTF-16 surrogate, which is not text"
    if size > MAX_ROW_BYTES:
        return f"is {size} bytes as JSON, more than the {MAX_ROW_BYTES} a row of the warehouse holds"
    return None


def _walk(folder: Path) -> Iterator[tuple[Path, str | None]]:
    """What is under `folder`, sorted, without following links: (path, None) for a regular file,
    (path, why) for something that is not one."""
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink():
            try:
                target = f" (to {_printable(os.readlink(path))})"
            except OSError:
                target = ""
            yield path, f"a symbolic link{target}"
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(path)
        elif entry.is_file(follow_symlinks=False):
            yield path, None
        else:
            yield path, "not a regular file"


class _Lines:
    """A text file's physical lines, numbered from 1, for a csv reader to read through.

    `taken` holds the lines the reader took for its current record; `put_back` hands lines to
    be read again, which is how parsing starts over after a broken record.
    """

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._back: list[tuple[int, str]] = []
        self._count = 0
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            line = self._back.pop()
        else:
            text = self._text.readline()
            if not text:
                raise StopIteration
            self._count += 1
            line = (self._count, text.removeprefix("\ufeff") if self._count == 1 else text)
        self.taken.append(line)
        return line[1]

    def put_back(self, lines: list[tuple[int, str]]) -> None:
        self._back.extend(reversed(lines))


@dataclass(frozen=True)
class _Shape:
    """What a line of a CSV looks like when it is a whole row: the header's width, and a key and
    an updated-at where the dataset has them."""

    width: int
    key: int | None
    updated_at: int | None

    def fits(self, text: str) -> bool:
        try:  # quotes as plain characters: the line as the exporter wrote it
            values = next(csv.reader([text], quoting=csv.QUOTE_NONE))
        except (csv.Error, StopIteration):
            return False
        return (len(values) == self.width
                and (self.key is None or bool(values[self.key].strip()))
                and (self.updated_at is None or _timestamp_problem(values[self.updated_at]) is None))

    def swallowed(self, taken: list[tuple[int, str]]) -> int | None:
        """The line of a record spanning `taken` that reads as a row of its own, if one does."""
        if self.width < 2:  # every line of a one-column file reads as a row: nothing to tell by
            return None
        for number, text in taken[1:-1]:
            if self.fits(text):
                return number
        if self.fits(taken[0][1]) and self.fits(taken[-1][1]):
            return taken[-1][0]
        return None


_CSV_ERRORS = {
    "unexpected end of data": "a quote opened on this line is never closed (the file ends inside it)",
    "',' expected after '\"'": "a quoted value goes on after its closing quote (a quote inside a quoted "
                                "value is written twice)",
}


def _csv_problem(error: str | None, values: list[str] | None, taken: list[tuple[int, str]],
                 shape: _Shape) -> str | None:
    """Why a CSV record (its values or the csv error it raised, and the lines it took) is not a row, or None."""
    first, last, width = taken[0][0], taken[-1][0], shape.width
    span = f", in a quoted value running from this line to line {last}" if last > first else ""
    if error is not None:
        if error == "unexpected end of data":
            return _CSV_ERRORS[error]
        if error.startswith("field larger than field limit"):
            return f"a value is longer than the {MAX_ROW_BYTES} characters a row of the warehouse holds{span}"
        return f"{_CSV_ERRORS.get(error, error)}{span}"
    assert values is not None
    if len(values) != width:
        if last > first:
            return (f"a quoted value running from this line to line {last} makes {len(values)} values where the "
                    f"header has {width} columns: is a quote unbalanced?")
        return f"{len(values)} values where the header has {width} columns"
    swallowed = shape.swallowed(taken) if last > first else None
    if swallowed is not None:
        return f"a quote opened on this line is still open on line {swallowed}, which reads as a row of its own"
    return None


@dataclass
class _File:
    """A file being read, and what became of its rows."""

    path: Path
    name: str  # relative to the drop folder
    dataset: Dataset
    sha: str = ""
    landed: int = 0
    rejected: int = 0
    whole: bool = True  # read to its end

    @property
    def meta(self) -> dict[str, Any]:
        return {"_file": self.name, "_file_sha256": self.sha, "_dataset": self.dataset.name}

    @property
    def is_loaded(self) -> bool:
        """Whether the ledger should skip this file from now on: it landed, or it holds nothing."""
        return self.whole and (self.landed > 0 or self.rejected == 0)

    def reject(self, reason: str, row: int | None = None, line: str | None = None,
               record: Record | None = None) -> Record:
        self.rejected += 1
        rejected = {**(record or {}), **self.meta, "_error": reason}
        if row is not None:
            rejected["_row"] = row
        if line is not None:
            rejected["_line"] = line[:EXCERPT_CHARS].replace("\x00", "\\x00")  # storable, whatever the line held
        return rejected


@dataclass
class FilesSource(Source):
    folder: Path
    datasets: list[Dataset]
    name: str = "files"
    streams: tuple[Stream, ...] = STREAMS
    _loaded: set[str] = field(default_factory=set)  # hashes in the ledger when the batch began
    _read: list[tuple[str, str, str, int]] = field(default_factory=list)  # sha, path, dataset, rows landed

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
        csv.field_size_limit(MAX_ROW_BYTES)
        self._read.clear()
        page: list[Record] = []
        for record in self._records(self.folder.resolve()):
            page.append(record)
            if len(page) >= PAGE_ROWS:
                yield page
                page = []
        if page:
            yield page

    def _records(self, root: Path) -> Iterator[Record]:
        read_now: set[str] = set()
        for path, refusal in _walk(root):
            name = _printable(path.relative_to(root))
            dataset = self.dataset_for(path)
            if refusal is not None and (dataset is not None or refusal.startswith("a symbolic link")):
                reason = (f"refused {name}: {refusal}; only regular files inside the drop folder are read, "
                          "copy the file in instead")
                log.warning("%s: %s", CONN_ID, reason)
                yield {"_file": name, "_dataset": dataset.name if dataset else None, "_error": reason}
                continue
            if refusal is not None or dataset is None:
                continue
            file = _File(path, name, dataset)
            try:
                file.sha = _sha256(path)
            except OSError as exc:
                yield file.reject(f"unreadable file {name}: {exc.strerror or exc}; it is read again next run")
                continue
            if file.sha in self._loaded or file.sha in read_now:
                continue
            read_now.add(file.sha)
            yield from self._file_records(file)
            if file.is_loaded:
                self._read.append((file.sha, name, dataset.name, file.landed))
            else:
                log.warning("%s: no row of %s landed (%d rejected): it is not marked as loaded and is read "
                            "again next run", CONN_ID, name, file.rejected)

    def _file_records(self, file: _File) -> Iterator[Record]:
        try:
            problem = _undecodable(file.path, file.dataset)
            if problem is not None:
                log.warning("%s: %s is rejected: %s", CONN_ID, file.name, problem)
                yield file.reject(f"unreadable file {file.name}: {problem}")
                return
            mtime = file.path.stat(follow_symlinks=False).st_mtime
            with _open(file.path) as raw, TextIOWrapper(raw, encoding=file.dataset.codec, newline="") as text:
                if file.path.suffix.lower() == ".jsonl":
                    yield from self._jsonl(file, text, mtime)
                else:
                    yield from self._csv(file, text, mtime)
        except (OSError, UnicodeDecodeError) as exc:  # it changed, or went away, while it was read
            file.whole = False
            yield file.reject(f"unreadable file {file.name}: {exc}; it is read again next run")

    def _csv(self, file: _File, text: IO[str], mtime: float) -> Iterator[Record]:
        lines = _Lines(text)
        reader = csv.reader(lines, strict=True)
        header: list[str] | None = None
        shape = _Shape(0, None, None)
        while True:
            lines.taken = []
            values: list[str] | None
            error: str | None = None
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                values, error = None, str(exc)
            if values == []:  # a blank line
                continue
            taken = lines.taken
            number = taken[0][0]
            if header is None:
                problem = self._header_problem(file, values, error, len(taken))
                if problem is not None:
                    yield file.reject(f"unreadable file {file.name}: its header (line {number}) {problem}",
                                      row=number, line=taken[0][1])
                    return
                assert values is not None
                header = [file.dataset.columns.get(name, name) for name in values]
                shape = _Shape(len(header), _index(header, file.dataset.key), _index(header, file.dataset.updated_at))
                continue
            problem = _csv_problem(error, values, taken, shape)
            if problem is not None:
                yield file.reject(f"unparseable line {number} of {file.name}: {problem}", row=number,
                                  line=taken[0][1])
                lines.put_back(taken[1:])
                continue
            assert values is not None
            yield self._row(file, number, dict(zip(header, values, strict=True)), "".join(t for _, t in taken), mtime)

    @staticmethod
    def _header_problem(file: _File, values: list[str] | None, error: str | None, lines: int) -> str | None:
        if error is not None:
            return f"cannot be read: {_CSV_ERRORS.get(error, error)}"
        assert values is not None
        if lines > 1:
            return "runs over several lines: a quote in it is unbalanced"
        seen: dict[str, str] = {}
        for name in values:
            column = file.dataset.columns.get(name, name)
            if column in RESERVED:
                lands = "" if column == name else f" that lands as {column!r}"
                return (f"has a column {name!r}{lands}, a name cxloop gives every row; map it to another name in "
                        "the dataset's \"columns\"")
            if column in seen:
                return f"has columns {seen[column]!r} and {name!r} that both land as {column!r}"
            seen[column] = name
        for role, column in (("key", file.dataset.key), ("updated_at", file.dataset.updated_at)):
            if column is not None and column not in seen:
                return (f"has no column {column!r}, the dataset's {role}; its columns are "
                        f"{', '.join(map(repr, seen))}")
        return None

    def _jsonl(self, file: _File, text: IO[str], mtime: float) -> Iterator[Record]:
        for number, line in enumerate(iter(text.readline, ""), start=1):
            if number == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip(" \t\r\n"):
                continue
            where = f"unparseable line {number} of {file.name}"
            try:
                value = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite_float)
            except json.JSONDecodeError as exc:
                yield file.reject(f"{where}: {exc.msg} at column {exc.colno}", row=number, line=line)
                continue
            except RecursionError:
                yield file.reject(f"{where}: nested too deeply", row=number, line=line)
                continue
            except ValueError as exc:  # NaN, Infinity, 1e999, an integer of thousands of digits
                yield file.reject(f"{where}: {exc}", row=number, line=line)
                continue
            if not isinstance(value, dict):
                yield file.reject(f"{where}: not a JSON object but {type(value).__name__}", row=number, line=line)
                continue
            fields: dict[str, Any] = {}
            problem = None
            for name, item in value.items():
                column = file.dataset.columns.get(name, name)
                if column in RESERVED:
                    problem = f"field {name!r} has a name cxloop gives every row; map it to another name"
                elif column in fields:
                    problem = f"two fields land as {column!r}"
                fields[column] = item
            if problem is not None:
                yield file.reject(f"{where}: {problem}", row=number, line=line)
                continue
            yield self._row(file, number, fields, line, mtime)

    @staticmethod
    def _row(file: _File, number: int, fields: dict[str, Any], text: str, mtime: float) -> Record:
        """The record of one parsed row: landed as is, or rejected with why (file and line)."""
        where = f"line {number} of {file.name}"
        problem = _unstorable(fields, text)
        if problem is not None:
            # Not the row itself: the reject would fail to store for the same reason.
            return file.reject(f"unparseable {where}: it {problem}", row=number, line=text)
        dataset = file.dataset
        record = {**fields, **file.meta, "_row": number}
        if dataset.key:
            key = fields.get(dataset.key)
            if key is None or isinstance(key, bool) or not isinstance(key, str | int):
                missing = "is missing" if key is None else f"holds a {type(key).__name__}, not text or a whole number"
                return file.reject(f"no natural key: column {dataset.key!r} on {where} {missing}", record=record)
            if not str(key).strip():
                return file.reject(f"no natural key: column {dataset.key!r} on {where} is empty", record=record)
        else:
            key = f"{file.sha[:16]}:{number}"
        if dataset.updated_at:
            updated_at = fields.get(dataset.updated_at)
            problem = _timestamp_problem(updated_at)
            if problem is not None:
                return file.reject(f"no updated-at: column {dataset.updated_at!r} on {where} {problem}",
                                   record=record)
        else:
            try:
                updated_at = datetime.fromtimestamp(mtime, tz=UTC).isoformat()
            except (ValueError, OverflowError, OSError):
                return file.reject(f"no updated-at: the file's modified time ({mtime}) is out of range, on {where}",
                                   record=record)
        file.landed += 1
        record["_key"], record["_updated_at"] = f"{dataset.name}:{key}", updated_at
        return record

    def on_landed(self, conn: psycopg.Connection, result: BatchResult) -> None:
        """Record the files that landed, in the batch's own transaction: a failed batch records none."""
        for sha, path, dataset, rows in self._read:
            conn.execute(
                "insert into raw._files_loaded (sha256, path, dataset, rows, batch_id) values (%s, %s, %s, %s, %s) "
                "on conflict (sha256) do nothing",
                (sha, path, dataset, rows, result.batch_id),
            )


def _index(header: list[str], column: str | None) -> int | None:
    return header.index(column) if column is not None and column in header else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (PostgreSQL cannot store it)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {_short(text)} is too large for a JSON number PostgreSQL can store")
    return value


def from_connection(conn: Any) -> FilesSource:
    extra = source_connection(conn, CONN_ID).extra
    if not extra.get("path"):
        raise ValueError(f"connection {CONN_ID}: extra.path must name the drop folder")
    datasets = [Dataset(name=name, pattern=spec.get("pattern", f"{name}*"), key=spec.get("key"),
                        updated_at=spec.get("updated_at"), columns=dict(spec.get("columns") or {}),
                        encoding=spec.get("encoding") or "utf-8")
                for name, spec in (extra.get("datasets") or {}).items()]
    for dataset in datasets:
        try:
            TextIOWrapper(BytesIO(), encoding=dataset.encoding)  # a text encoding, not any codec (base64)
        except LookupError:
            raise ValueError(f"connection {CONN_ID}: dataset {dataset.name} declares encoding {dataset.encoding!r}, "
                             "not a text encoding Python knows (e.g. utf-8, cp1252, utf-16)") from None
    return FilesSource(folder=Path(extra["path"]), datasets=datasets)
