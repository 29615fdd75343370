"""Landing: pages of API records into `raw.<source>_<stream>`, one batch per stream run.

Every page is streamed through a single COPY into a temp table, then merged with one
`INSERT ... ON CONFLICT (record_key) DO UPDATE ... WHERE newer`. Records that cannot be keyed
or stored travel through the same COPY with their reason and end in `raw._rejected`, so memory
stays flat whatever the volume and nothing is dropped silently. When a key appears more than once
in a batch, its newest version lands and the older copies are rejected as superseded, so that
`fetched == landed + rejected` holds for every batch. The caller owns the transaction, so the
cursor update commits with the data or not at all.

Python's work per record is what bounds the load (the server sits partly idle during the COPY),
so each record costs one JSON encoding and one line of COPY text, written a page at a time,
rather than psycopg's per-field adaptation. The merge drops records whose `updated_at` has not
moved before they reach ON CONFLICT, which would otherwise lock, and so write, every unchanged
row: reloading mostly unchanged records writes only what changed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ingest import schema
from ingest.streams import BatchResult, Record, RecordError, Stream, Window, parse_timestamp

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
REJECT = """
insert into raw._rejected (source, stream, batch_id, reason, original, record_key)
select %(source)s, %(stream)s, %(batch_id)s, reject_reason, coalesce(original, record::text), record_key
from _incoming
where reject_reason is not null
on conflict do nothing
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
    returning (xmax = 0) as is_insert
)
select count(*) filter (where is_insert), count(*) filter (where not is_insert) from merged
"""


# Records come from parsed JSON, so they cannot refer to themselves: no circular-reference check.
_ENCODE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, check_circular=False).encode
_COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _prepare(stream: Stream, record: Any) -> tuple[str, datetime, str]:
    """Key, updated-at and JSON text of a record; RecordError says why it cannot land."""
    if not isinstance(record, dict):
        raise RecordError(f"not a JSON object but {type(record).__name__}")
    try:
        key = stream.key(record)
    except (KeyError, TypeError, IndexError) as exc:
        raise RecordError(f"no natural key: missing {exc}") from None
    if key is None or str(key).strip() == "":
        raise RecordError("no natural key: empty")
    try:
        updated_at = parse_timestamp(stream.updated_at(record))
    except (KeyError, TypeError, IndexError) as exc:
        raise RecordError(f"no updated-at: missing {exc}") from None
    text = _ENCODE_JSON(record)
    if "\\u0000" in text:
        raise RecordError("contains a NUL character, which PostgreSQL jsonb cannot store")
    return str(key), updated_at, text


def _copy_field(value: str) -> str:
    """`value` as a field of COPY's text format; keys and reasons rarely need any escaping."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_TEXT_ESCAPES)
    return value


def _copy_json(text: str) -> str:
    # The encoder escapes every control character, so a backslash is all COPY can trip on.
    return text.replace("\\", "\\\\") if "\\" in text else text


def _original_text(record: Any) -> str:
    try:
        return json.dumps(record, ensure_ascii=False, default=str).replace("\\u0000", "\\\\u0000")
    except (TypeError, ValueError):
        return repr(record)


def _copy_lines(stream: Stream, page: Iterable[Record], result: BatchResult) -> str:
    """One page as COPY text for `_incoming`, a line per record; counts them, and rejections by reason."""
    lines = []
    for record in page:
        try:
            key, updated_at, text = _prepare(stream, record)
        except RecordError as exc:
            reason = str(exc)
            result.rejected_reasons[reason] = result.rejected_reasons.get(reason, 0) + 1
            lines.append(f"{_NULL}\t{_NULL}\t{_NULL}\t{_copy_field(reason)}\t{_copy_field(_original_text(record))}\n")
            continue
        lines.append(f"{_copy_field(key)}\t{updated_at.isoformat()}\t{_copy_json(text)}\t{_NULL}\t{_NULL}\n")
    result.fetched += len(lines)
    return "".join(lines)


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
    params = {"source": stream.source, "stream": stream.name, "batch_id": batch_id}
    _reject(conn, result, params)
    inserted, updated = conn.execute(sql.SQL(MERGE).format(table=sql.Identifier(stream.table)), params).fetchone()
    rejected = sum(result.rejected_reasons.values())
    result.rejected, result.inserted, result.updated = rejected, inserted, updated
    result.landed = result.fetched - result.rejected
    conn.execute(
        """insert into audit.load_batches
           (batch_id, source, stream, window_start, window_end, fetched, landed, rejected, inserted, updated)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (batch_id, stream.source, stream.name, window.start, window.end, result.fetched, result.landed,
         result.rejected, inserted, updated),
    )
    conn.execute("drop table _incoming")
    return result
