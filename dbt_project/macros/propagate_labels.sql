{#- Connected components by label propagation, as CTEs (no `with`, each followed by a comma).

    `incidence` is a relation of (node bigint, key text): nodes sharing a key are connected.
    Each round hands every key the smallest label among its nodes, then every node the smallest
    label among its keys; after `rounds` rounds every chain of that many shared keys has settled,
    and `<prefix>_labels` holds (node, label) with label the smallest node of the component. Only
    nodes with a key appear. A recursive walk would materialise every pair of nodes of a component
    (its memory grows with the square of a household); a round is one pass over the keys. -#}
{% macro propagate_labels(incidence, prefix, rounds=var('identity_max_rounds')) -%}
{{ prefix }}_0 as (
    select distinct node, node as label from {{ incidence }}
),
{% for round in range(rounds | int) %}
{{ prefix }}_keys_{{ round + 1 }} as (
    select incidence.key, min(labels.label) as label
    from {{ incidence }} as incidence
    inner join {{ prefix }}_{{ round }} as labels using (node)
    group by incidence.key
),
{{ prefix }}_{{ round + 1 }} as (
    select incidence.node, min(key_labels.label) as label
    from {{ incidence }} as incidence
    inner join {{ prefix }}_keys_{{ round + 1 }} as key_labels using (key)
    group by incidence.node
),
{% endfor %}
{{ prefix }}_labels as (
    select node, label from {{ prefix }}_{{ rounds | int }}
),
{%- endmacro %}
