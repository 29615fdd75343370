{#- The filter of an incremental model's source CTE: rows landed (or re-landed by a newer
    version) since the last build minus a lookback for late arrivals, plus the rows of batches
    the quality gate released (they landed long ago but were held back until now). -#}
{% macro incremental_since(loaded_at='_loaded_at', batch_column='_batch_id', this_loaded_at='loaded_at') -%}
    {%- if is_incremental() %}
    and (
        {{ loaded_at }} > (
            select coalesce(max({{ this_loaded_at }}), '-infinity'::timestamptz)
                   - interval '{{ var("lookback_hours") }} hours'
            from {{ this }}
        )
        or {{ batch_column }} in (
            select batch_id from {{ source('cxloop_audit', 'load_batches') }} where status = 'released'
        )
    )
    {%- endif %}
{%- endmacro %}
