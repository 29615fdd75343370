{#- cxloop's channel for a source's own channel name, from the editable seed channel_mapping:
    the exact (source, source_channel) row, else the source's `*` row. -#}
{% macro map_channel(source_column, source_channel_column) -%}
    (
        select mapping.channel
        from {{ ref('channel_mapping') }} as mapping
        where mapping.source = {{ source_column }}
          and (mapping.source_channel = {{ source_channel_column }} or mapping.source_channel = '*')
        order by mapping.source_channel = '*'
        limit 1
    )
{%- endmacro %}
