{#- The grain of a model: no two rows share these columns. (dbt_utils has one; cxloop takes no
    packages because `dbt deps` needs the internet.) -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_sharing
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
