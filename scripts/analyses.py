"""The dbt analyses (dbt_project/analyses/) as SQL to run: dbt compiles them, so the formulas
and table names they use are the dbt project's own, never copied into Python."""

from __future__ import annotations

from ingest import runner, warehouse


def compiled_sql(*names: str, wh: warehouse.Warehouse | None = None) -> dict[str, str]:
    """Each named analysis compiled against the warehouse, by name."""
    warehouse.run_dbt(["compile", "--select", *names], wh, quiet=True)
    compiled = runner.dbt_target_path() / "compiled" / "cxloop" / "analyses"
    return {name: (compiled / f"{name}.sql").read_text() for name in names}
