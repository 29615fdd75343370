{#- Every record a source deleted, from the tombstones the connectors land in its raw table
    (ingest/streams.py, DELETED_AT): the one place the marts learn what to drop. Staging models
    never carry a deleted record (macro not_deleted) and drop one they held (drop_deleted);
    the incremental intermediates mark what was built from it.

    The streams whose records a source deletes are listed here and nowhere else. A record
    restored at the source comes back through staging as any changed record does; its row here
    stays, as the history of that deletion. -#}
{%- set deletable = [
    ('hubspot', 'contacts'), ('hubspot', 'companies'), ('hubspot', 'deals'),
    ('zendesk', 'tickets'), ('trustpilot', 'reviews'), ('typeform', 'responses'),
] -%}
{{ config(
    unique_key=['source', 'stream', 'record_key'],
    indexes=[
        {'columns': ['source', 'stream', 'record_key'], 'unique': true},
        {'columns': ['loaded_at']},
    ]
) }}

{% for source_name, stream in deletable %}
select
    '{{ source_name }}'::text                       as source,
    '{{ stream }}'::text                            as stream,
    record_key,
    (record ->> '{{ var("deleted_at_field") }}')::timestamptz as deleted_at,
    _batch_id                                       as batch_id,
    _loaded_at                                      as loaded_at
from {{ source(source_name, source_name ~ '_' ~ stream) }}
where {{ not_quarantined() }} and (record ->> '{{ var("deleted_at_field") }}') is not null
{{ incremental_since() }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
