"""The sources cxloop lands and their streams, by name: the one list the runner and the DAG read.

The DAG reads it at parse time, so this module imports nothing. Each source is the module
`ingest/<source>.py`, whose `STREAMS` describe these streams in this order (a stream's position
is its map index in the DAG); the runner refuses a connector whose streams differ.
"""

from __future__ import annotations

SOURCE_STREAMS: dict[str, tuple[str, ...]] = {
    "hubspot": ("contacts", "companies", "deals", "deal_pipelines", "owners", "line_items", "products"),
    "zendesk": ("tickets", "users", "ticket_metrics", "satisfaction_ratings", "sla_policies",
                "ticket_metric_events", "ticket_comments", "schedules", "schedule_holidays", "time_zones"),
    "trustpilot": ("reviews",),
    "typeform": ("responses",),
    "files": ("records",),
}
SOURCES: tuple[str, ...] = tuple(SOURCE_STREAMS)


def raw_table(source: str, stream: str) -> str:
    """The table in schema `raw` that a stream lands in."""
    return f"{source}_{stream}"


def raw_tables() -> list[str]:
    """Every catalogued stream's raw table."""
    return [raw_table(source, stream) for source, streams in SOURCE_STREAMS.items() for stream in streams]


def pool(source: str) -> str:
    """The Airflow pool that caps the source's concurrent API calls (dags/pools.json)."""
    return f"cxloop_{source}"
