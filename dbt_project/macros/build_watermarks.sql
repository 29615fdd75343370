{#- What an incremental model has already seen, without a wall-clock lookback.

    Raw rows are stamped `_loaded_at` = the start of the transaction that landed them. A build
    first waits until every landing transaction that began before it has committed, then notes
    its own start (the warehouse's clock) in audit.dbt_builds. From then on a landing stamps
    later than that start, so "everything stamped since the start of this model's last
    successful build" is exactly what the model has not seen: no row is missed however loads and
    builds interleave, and a night re-reads only that night's change, not the last few nights'
    (a lookback would make two nights a few minutes apart, as in a backfill, cost two full
    builds). A model whose build failed re-reads from its last success. -#}

{#- Only commands that build models keep watermarks: a `dbt compile` or `docs generate` reports
    its models as successful too, and must not count as having built them. -#}
{% macro builds_models() -%}
    {{ return(flags.WHICH in ('run', 'build')) }}
{%- endmacro %}

{% macro record_build_start() -%}
{%- if not builds_models() -%}
select 1
{%- else -%}
create table if not exists audit.dbt_builds (
    invocation_id text primary key,
    started_at    timestamptz not null
);
create table if not exists audit.dbt_model_builds (
    model         text not null,
    invocation_id text not null references audit.dbt_builds,
    primary key (model, invocation_id)
);
do $$
declare
    began timestamptz := now();
    waited interval := '0'::interval;
begin
    -- A landing transaction names itself (ingest/runner.py, LANDING_APPLICATION_NAME).
    while exists (
        select from pg_stat_activity
        where application_name = 'cxloop_landing' and xact_start < began
    ) loop
        if waited > interval '{{ var("landing_wait_minutes") }} minutes' then
            raise exception 'a landing transaction begun before this dbt build is still open after % minutes; '
                            'rerun the build when it has finished', {{ var("landing_wait_minutes") }};
        end if;
        perform pg_sleep(1);
        waited := waited + interval '1 second';
    end loop;
    insert into audit.dbt_builds (invocation_id, started_at) values ('{{ invocation_id }}', began)
    on conflict (invocation_id) do nothing;
end
$$
{%- endif -%}
{%- endmacro %}

{% macro record_model_builds(results) -%}
    {%- set built = [] -%}
    {%- for result in results -%}
        {%- if result.node.resource_type == 'model' and result.status == 'success' -%}
            {%- do built.append(result.node.alias) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if built and builds_models() -%}
insert into audit.dbt_model_builds (model, invocation_id)
values {% for model in built %}('{{ model }}', '{{ invocation_id }}'){{ ", " if not loop.last }}{% endfor %}
on conflict do nothing
    {%- else -%}
select 1
    {%- endif -%}
{%- endmacro %}

{#- When this build began (see record_build_start). -#}
{% macro this_build_started_at() -%}
    (select started_at from audit.dbt_builds where invocation_id = '{{ invocation_id }}')
{%- endmacro %}

{#- When the last successful build of this model began: rows stamped since then are new to it.
    Read once when the model runs and written into its SQL as a literal, so the planner can
    estimate how few rows are new and reach them through the loaded_at indexes. -#}
{% macro last_build_started_at() -%}
    {%- set query -%}
        select coalesce(max(builds.started_at), '-infinity'::timestamptz)::text
        from audit.dbt_model_builds as model_builds
        inner join audit.dbt_builds as builds using (invocation_id)
        where model_builds.model = '{{ this.identifier }}'
    {%- endset -%}
    {%- if execute and is_incremental() -%}
        {%- set known = run_query("select to_regclass('audit.dbt_model_builds') is not null").columns[0].values()[0] -%}
        {%- set since = run_query(query).columns[0].values()[0] if known else '-infinity' -%}
        '{{ since }}'::timestamptz
    {%- else -%}
        ({{ query }})::timestamptz
    {%- endif -%}
{%- endmacro %}

{#- The filter of rows new to an incremental model since its last successful build. -#}
{% macro changed_since_last_build(loaded_at='loaded_at') -%}
    {{ loaded_at }} >= {{ last_build_started_at() }}
{%- endmacro %}
