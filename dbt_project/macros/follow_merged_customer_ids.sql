{#- Post-hook of customer_id_history: an earlier row whose current customer merged away tonight
    (all of its records went to one customer) now names that customer, so an old id always leads
    to where its records are. -#}
{% macro follow_merged_customer_ids() -%}
    {%- if is_incremental() -%}
    update {{ this }} as earlier
    set current_customer_id = tonight.current_customer_id
    from {{ this }} as tonight
    where tonight.why = 'merged'
        and tonight.since = (select max(since) from {{ this }})
        and earlier.current_customer_id = tonight.old_customer_id
        and earlier.since < tonight.since
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
