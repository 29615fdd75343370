{#- Grants need the role to exist; creating roles needs CREATEROLE, which a warehouse user may
    lack, so an existing role is left alone and a missing one is a clear error. -#}
{% macro ensure_role(role) -%}
do $$
begin
    if not exists (select from pg_roles where rolname = '{{ role }}') then
        create role {{ role }} login;
    end if;
end
$$
{%- endmacro %}
