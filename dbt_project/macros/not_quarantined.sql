{#- Filter for a staging model's source CTE: rows of batches the quality gate quarantined stay
    in raw but never reach staging (expectations/gate.py sets the status). -#}
{% macro not_quarantined(batch_column='_batch_id') -%}
    {{ batch_column }} not in (
        select batch_id from {{ source('cxloop_audit', 'load_batches') }} where status = 'quarantined'
    )
{%- endmacro %}
