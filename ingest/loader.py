"""Landing: pages of API records into `raw.<source>_<stream>`, one batch per stream run.

Every page is streamed through a single COPY into a temp table, then merged with one
`INSERT ... ON CONFLICT (record_key) DO UPDATE ... WHERE newer`. Records that cannot be keyed
or stored travel through the same COPY with their reason and end in `raw._rejected`, so memory
stays flat whatever the volume and nothing is dropped silently. When a key appears more than once
in a batch, its newest version lands and the older copies are rejected as superseded, so that
`fetched == landed + rejected` holds for every batch. The caller owns the transaction, so the
cursor update commits with the data or not at all.

A record whose values PostgreSQL cannot store (NaN or Infinity, a NUL character, a lone
surrogate, an integer too long to write) is rejected with the value and where it sits, e.g.
"value not storable: NaN at $.score"; the rest of the page lands. Those checks ride on the
encoding every record goes through anyway, and only a record that trips one is walked to
find the culprit. Rejects are recorded per batch: a bad record that a rerun fetches again is a
reject of that batch too, and the same bad record fetched twice in one batch is one row whose
`copies` says how often, so a batch's rejects add up to its `rejected` count.

Python's work per record is what bounds the load (the server sits partly idle during the COPY),
so each record costs one JSON encoding and one line of COPY text, written a page at a time,
rather than psycopg's per-field adaptation. The merge drops records whose `updated_at` has not
moved before they reach ON CONFLICT, which would otherwise lock, and so write, every unchanged
row: reloading mostly unchanged records writes only what changed.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ingest import schema
from ingest.streams import DELETED_AT, BatchResult, Record, RecordError, Stream, Window, is_tombstone, parse_timestamp

log = logging.getLogger(__name__)

# Most batches repeat no key: a hash aggregate over the keys alone says so cheaply, and only
# then are the older versions of a repeated key ranked and marked as superseded.
HAS_REPEATED_KEYS = """
select exists (
    select 1 from _incoming where reject_reason is null group by record_key having count(*) > 1
)
"""
MARK_SUPERSEDED = """
update _incoming as i
set reject_reason = 'superseded within its batch by a newer version of the same key'
from (
    select ctid, row_number() over (partition by record_key order by record_updated_at desc) as version_rank
    from _incoming
    where reject_reason is null
) as ranked
where i.ctid = ranked.ctid and ranked.version_rank > 1
"""
# Only when something was rejected: otherwise it is one more full scan of the batch for nothing.
# A row per distinct reject of this batch, `copies` counting how often it was fetched, in the
# order first fetched; batch ids are new for every run, so the unique index
# `_rejected_once_per_batch` (migration 0003) never meets an earlier row.
REJECT = """
insert into raw._rejected (source, stream, batch_id, reason, original, record_key, copies)
select %(source)s, %(stream)s, %(batch_id)s, reject_reason, original, min(record_key), count(*)
from (
    select ctid, reject_reason, coalesce(original, record::text) as original, record_key
    from _incoming
    where reject_reason is not null
) as rejected
group by reject_reason, original
order by min(ctid)
"""
# Plain statements, no CTE over _incoming: a CTE read twice is materialised, payload and all.
# The anti-join drops unchanged records before ON CONFLICT sees them; the conflict clause keeps
# its own `where` for a row another transaction lands meanwhile.
MERGE = """
with merged as (
    insert into raw.{table} as t (record_key, record_updated_at, record, _batch_id)
    select i.record_key, i.record_updated_at, i.record, %(batch_id)s
    from _incoming as i
    where i.reject_reason is null
      and not exists (
          select from raw.{table} as landed
          where landed.record_key = i.record_key and landed.record_updated_at >= i.record_updated_at
      )
    on conflict (record_key) do update
        set record_updated_at = excluded.record_updated_at, record = excluded.record,
            _batch_id = excluded._batch_id, _loaded_at = now()
        where excluded.record_updated_at > t.record_updated_at
    returning (xmax = 0) as is_insert, t.record ? '{deleted_at}' as is_deletion
)
select count(*) filter (where is_insert), count(*) filter (where not is_insert), count(*) filter (where is_deletion)
from merged
"""


# Records come from parsed JSON, so they cannot refer to themselves: no circular-reference check.
# `allow_nan=False`: NaN and Infinity, which json.loads accepts, are not JSON and jsonb refuses them.
_ENCODE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, check_circular=False,
                                allow_nan=False).encode
_COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
# jsonb numbers are `numeric`, which holds at most 131072 digits before the decimal point. A
# Python float never comes near (its text has at most 17 significant digits and a 3-digit
# exponent) and Python refuses to write an int of more than sys.get_int_max_str_digits() digits
# (4300 by default), so only an int written under a lifted limit can exceed it, and only in a
# record whose JSON is longer than that many characters.
_JSONB_MAX_INTEGER_DIGITS = 131072
# Below this many bits an int has fewer digits than the lowest limit Python allows (640).
_SHORT_INT_BITS = 2000

# Control characters other than NUL land. JSON requires them escaped, the encoder writes them
# as escapes (\u0001, \b, \f, ...), jsonb stores those and gives back the very characters, and
# PostgreSQL text holds every character but NUL. They are part of what the source sent: a
# form feed in a pasted document, a terminal's colour codes in a bug report, a vertical tab
# from a spreadsheet cell. Rejecting them would lose real records; stripping them would land
# something the source never said. NUL alone cannot be stored anywhere in PostgreSQL.


def _member(path: str, name: Any) -> str:
    """The JSONPath of field `name` under `path`: $.score, or $["two words"] when it needs quoting."""
    name = name if isinstance(name, str) else json.dumps(name)  # as the encoder writes a non-string key
    # json.dumps escapes what a reason cannot hold (NUL, lone surrogates) in a name that needs quoting.
    return f"{path}.{name}" if name.isidentifier() else f"{path}[{json.dumps(name)}]"


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "NUL character"
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return f"lone surrogate U+{ord(text[exc.start]):04X}"
    return None


def _number_problem(value: int | float) -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else json.dumps(value)  # NaN, Infinity, -Infinity
    if value.bit_length() < _SHORT_INT_BITS:
        return None
    magnitude, limit = abs(int(value)), sys.get_int_max_str_digits()
    if limit and magnitude >= 10**limit:
        return f"integer of more than {limit} digits, which Python does not write as text"
    if magnitude >= 10**_JSONB_MAX_INTEGER_DIGITS:
        return f"integer of more than {_JSONB_MAX_INTEGER_DIGITS} digits, which jsonb cannot hold"
    return None


def _problem(value: Any) -> str | None:
    """Why the encoder cannot write `value` (a leaf, or a field name) as jsonb can store it; None if it can."""
    if isinstance(value, str):
        return _text_problem(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _number_problem(value)
    try:
        return _text_problem(str(value))  # the encoder writes any other value as its str()
    except Exception as exc:  # noqa: BLE001 - whatever str() raises, the value cannot be written
        return f"{type(value).__name__} whose text cannot be written ({type(exc).__name__})"


def _unstorable(record: Any) -> str | None:
    """The first value of `record` that jsonb cannot store, with its path, as a reason; None if none.

    The slow path, for a record the fast checks flagged. Walked with a stack, in document order,
    rather than by recursion, so that depth alone cannot stop it.
    """
    pending: list[tuple[Any, str]] = [(record, "$")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, dict):
            for name in value:
                if not isinstance(name, str | int | float | None):
                    return f"value not storable: field name of type {type(name).__name__} at {path}"
                if (problem := _problem(name)) and isinstance(name, str):
                    return f"value not storable: {problem} in the field name at {_member(path, name)}"
                if problem:
                    return f"value not storable: {problem} as a field name at {path}"
            pending.extend((item, _member(path, name)) for name, item in reversed(value.items()))
        elif isinstance(value, list | tuple):
            pending.extend((item, f"{path}[{index}]") for index, item in reversed(list(enumerate(value))))
        elif problem := _problem(value):
            return f"value not storable: {problem} at {path}"
    return None


def _long_integers_written() -> bool:
    """Whether Python writes integers too long for jsonb (only when its digit limit is lifted)."""
    limit = sys.get_int_max_str_digits()
    return limit == 0 or limit > _JSONB_MAX_INTEGER_DIGITS


def _encode(record: dict) -> bytes:
    r"""The record's JSON as UTF-8; RecordError names the first value jsonb cannot store.

    The common path costs what encoding costs anyway: the encoder itself refuses NaN, Infinity
    and over-long integers, a NUL shows as the escape `\u0000` in its text, and a lone surrogate
    cannot be written as UTF-8. Only when one of those trips is the record walked for the culprit.
    """
    try:
        text = _ENCODE_JSON(record)
    except RecursionError:
        raise RecordError("value not storable: nested too deeply") from None
    except (ValueError, TypeError) as exc:
        raise RecordError(_unstorable(record) or f"value not storable: {exc}") from None
    # Text that merely looks like the escape (a backslash then "u0000") is written with its
    # backslash doubled, and matches too: the walk tells the two apart.
    if "\\u0000" in text and (problem := _unstorable(record)):
        raise RecordError(problem)
    try:
        data = text.encode()
    except UnicodeEncodeError:
        raise RecordError(_unstorable(record) or "value not storable: not valid UTF-8") from None
    if len(data) > _JSONB_MAX_INTEGER_DIGITS and _long_integers_written() and (problem := _unstorable(record)):
        raise RecordError(problem)
    return data


# What a stream's accessors raise on a record shaped otherwise than they expect: a field that
# is missing, or not the object or list they look into (e.g. `.get` on a string).
_UNREADABLE = (KeyError, TypeError, IndexError, AttributeError)


def _unreadable(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else f"unreadable ({exc})"


def _prepare(stream: Stream, record: Any) -> tuple[str, datetime, bytes]:
    """Key, updated-at and JSON (UTF-8) of a record; RecordError says why it cannot land.

    Values are checked before the key: a reject for its key (which the quality gate reads back
    as jsonb) always holds JSON that jsonb can store.
    """
    if not isinstance(record, dict):
        raise RecordError(f"not a JSON object but {type(record).__name__}")
    data = _encode(record)
    try:
        key = stream.key(record)
    except _UNREADABLE as exc:
        raise RecordError(f"no natural key: {_unreadable(exc)}") from None
    if key is None or str(key).strip() == "":
        raise RecordError("no natural key: empty")
    try:
        # A deletion is the newest thing that happened to a record, and a tombstone carries no
        # other field the stream's own updated-at could be read from.
        updated_at = parse_timestamp(record[DELETED_AT] if is_tombstone(record) else stream.updated_at(record))
    except _UNREADABLE as exc:
        raise RecordError(f"no updated-at: {_unreadable(exc)}") from None
    return str(key), updated_at, data


def _copy_field(value: str) -> str:
    """`value` as a field of COPY's text format; keys and reasons rarely need any escaping."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_TEXT_ESCAPES)
    return value


def _copy_json(data: bytes) -> bytes:
    # The encoder escapes every control character, so a backslash is all COPY can trip on.
    return data.replace(b"\\", b"\\\\") if b"\\" in data else data


def _storable_text(text: str) -> str:
    """`text` as PostgreSQL text can hold it: a NUL or a lone surrogate as its backslash escape."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode()


def _original_text(record: Any) -> str:
    """The rejected record as JSON text where it can be written so (NaN and all), else its repr."""
    try:
        text = json.dumps(record, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        try:
            text = repr(record)
        except (ValueError, RecursionError) as exc:
            text = f"<{type(record).__name__} that cannot be written as text: {exc}>"
    # The encoder writes a NUL as the escape \u0000; a lone surrogate stays one: keep it as the
    # escape (\ud800) JSON would have had.
    return _storable_text(text)


def _copy_lines(stream: Stream, page: Iterable[Record], result: BatchResult) -> bytes:
    """One page as COPY text for `_incoming`, a line per record; counts them, and rejections by reason."""
    lines = []
    for record in page:
        try:
            key, updated_at, data = _prepare(stream, record)
        except RecordError as exc:
            # A connector's own reason may quote what it read: make it text PostgreSQL can hold.
            reason = _storable_text(str(exc))
            result.rejected_reasons[reason] = result.rejected_reasons.get(reason, 0) + 1
            lines.append(f"{_NULL}\t{_NULL}\t{_NULL}\t{_copy_field(reason)}\t"
                         f"{_copy_field(_original_text(record))}\n".encode())
            continue
        lines.append(b"%b\t%b\t%b\t\\N\t\\N\n" % (
            _copy_field(key).encode(), updated_at.isoformat().encode(), _copy_json(data)))
    result.fetched += len(lines)
    return b"".join(lines)


def _copy_pages(conn: psycopg.Connection, stream: Stream, pages: Iterable[list[Record]],
                result: BatchResult) -> None:
    with conn.cursor() as cur, cur.copy(
        "copy _incoming (record_key, record_updated_at, record, reject_reason, original) from stdin"
    ) as copy:
        for page in pages:
            copy.write(_copy_lines(stream, page, result))


def _reject(conn: psycopg.Connection, result: BatchResult, params: dict[str, str]) -> None:
    """Mark older versions of a repeated key as superseded; send every reject to `raw._rejected`."""
    if result.fetched - sum(result.rejected_reasons.values()) > 1 and conn.execute(HAS_REPEATED_KEYS).fetchone()[0]:
        result.rejected_reasons["superseded within its batch"] = conn.execute(MARK_SUPERSEDED).rowcount
    if result.rejected_reasons:
        conn.execute(REJECT, params)


def land(conn: psycopg.Connection, stream: Stream, batch_id: str, window: Window,
         pages: Iterable[list[Record]]) -> BatchResult:
    """Land every record of `pages` as batch `batch_id`, inside the caller's transaction."""
    result = BatchResult(stream.source, stream.name, batch_id, window.start, window.end)
    schema.ensure_raw_table(conn, stream.table)
    conn.execute("""
        create temp table _incoming (
            record_key text, record_updated_at timestamptz, record jsonb,
            reject_reason text, original text
        ) on commit drop""")
    _copy_pages(conn, stream, pages, result)
    conn.execute("set local work_mem = '256MB'")
    # The skip-unchanged probe must go through the key's index. A raw table analysed while empty
    # (e.g. after a truncate) is planned as a scan per incoming record, and that scan also reads
    # the rows this statement inserts: a first load of 155k tickets ran for more than 9 minutes.
    conn.execute("set local enable_seqscan = off")
    params = {"source": stream.source, "stream": stream.name, "batch_id": batch_id}
    _reject(conn, result, params)
    merge = sql.SQL(MERGE).format(table=sql.Identifier(stream.table), deleted_at=sql.SQL(DELETED_AT))
    inserted, updated, deleted = conn.execute(merge, params).fetchone()
    rejected = sum(result.rejected_reasons.values())
    result.rejected, result.inserted, result.updated, result.deleted = rejected, inserted, updated, deleted
    result.landed = result.fetched - result.rejected
    conn.execute(
        """insert into audit.load_batches
           (batch_id, source, stream, window_start, window_end, fetched, landed, rejected, inserted, updated,
            deleted)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (batch_id, stream.source, stream.name, window.start, window.end, result.fetched, result.landed,
         result.rejected, inserted, updated, deleted),
    )
    conn.execute("drop table _incoming")
    return result
