"""The query that shows a suite one landed batch: `projections/<source>_<stream>.sql` over its rows.

A projection turns a stream's jsonb records into the columns its suite checks. It reads
`{batch_rows}`: what the batch received, not only what landed — its rows in raw plus the
records the loader turned away for having no key or for repeating one, so that the suites' key
expectations (not null, unique) see them — with columns record_key, record and unknown_fields
(the top-level fields the suite's `known_fields` does not list). A tombstone (a record deleted
at the source: its key and when) is not shown: it has none of the fields a suite checks.

Rejects are recorded per batch, so a rerun that fetches the same bad records is judged by them
as the first run was. A rerun's unchanged records keep the batch that first landed them, though:
when the version of a repeated key that won is such a record, its row in raw stands in for it,
so the batch still shows the key twice.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from ingest.streams import DELETED_AT

PROJECTIONS_DIR = Path(__file__).resolve().parent / "projections"

BATCH_ROWS = """(
    select record_key, record, {unknown_fields} as unknown_fields
    from (
        select record_key, record from raw.{table} where _batch_id = '{batch_id}' and not record ? '{deleted_at}'
        union all
        select record_key, original::jsonb from raw._rejected
        where batch_id = '{batch_id}' and (reason like 'no natural key%' or reason like 'superseded%')
        union all
        select record_key, record from raw.{table}
        where _batch_id <> '{batch_id}' and record_key in (
            select record_key from raw._rejected where batch_id = '{batch_id}' and reason like 'superseded%')
    ) as received
) as batch_rows"""

UNKNOWN_FIELDS = """case when jsonb_typeof(record) = 'object' then (
        select string_agg(field, ', ' order by field) from jsonb_object_keys(record) as field
        where field <> all({known})
    ) end"""


def _unknown_fields_sql(known_fields: list[str] | None) -> str:
    if not known_fields:
        return "null::text"
    known = "array[" + ", ".join("'" + f.replace("'", "''") + "'" for f in known_fields) + "]::text[]"
    return UNKNOWN_FIELDS.format(known=known)


def batch_query(name: str, batch_id: str, known_fields: list[str] | None = None) -> str:
    """The projection of stream table `name` (e.g. zendesk_tickets) over batch `batch_id`."""
    uuid.UUID(batch_id)  # the id is inlined into SQL: it must be a UUID and nothing else
    lines = (PROJECTIONS_DIR / f"{name}.sql").read_text().splitlines()
    # GX wants the query to start with SELECT: drop the file's leading comment block.
    body = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    rows = BATCH_ROWS.format(table=name, batch_id=batch_id, deleted_at=DELETED_AT,
                             unknown_fields=_unknown_fields_sql(known_fields))
    return body.strip().replace("{batch_rows}", rows)
