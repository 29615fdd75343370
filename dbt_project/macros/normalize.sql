{#- Identity keys as identity resolution compares them. Tools spell the same address with
    different case and stray spaces, and the same phone as "+44 20 …", "0044-20-…" or
    "(44) 20…"; these are the canonical forms (docs: int_customers_resolved). -#}

{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- E.164 when the number carries its country code (leading +, 00 or a bracketed code);
    a national number without one cannot be placed in a country, so it is left null rather
    than guessed. -#}
{% macro normalize_phone(column) -%}
    case
        when {{ column }} ~ '^\s*(\+|00|\()'
            and length(regexp_replace(regexp_replace({{ column }}, '\D', '', 'g'), '^00', '')) between 8 and 15
        then '+' || regexp_replace(regexp_replace({{ column }}, '\D', '', 'g'), '^00', '')
    end
{%- endmacro %}
