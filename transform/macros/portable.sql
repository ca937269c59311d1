{# SQL that reads the same on DuckDB and PostgreSQL, where the two differ. #}

{% macro hours_between(start, finish) -%}
    (extract(epoch from ({{ finish }} - {{ start }})) / 3600.0)
{%- endmacro %}

{% macro median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro percentile(fraction, expression) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro week_of(expression) -%}
    cast(date_trunc('week', {{ expression }}) as date)
{%- endmacro %}

{% macro day_of(expression) -%}
    cast({{ expression }} as date)
{%- endmacro %}

{# Case-insensitive regular expression match. #}
{% macro matches(expression, pattern) -%}
    {%- if target.type == 'duckdb' -%}
        regexp_matches({{ expression }}, '{{ pattern }}', 'i')
    {%- else -%}
        ({{ expression }} ~* '{{ pattern }}')
    {%- endif -%}
{%- endmacro %}

{# Whether any string of an array column (JSON in DuckDB, text[] in PostgreSQL) matches. #}
{% macro any_matches(array_column, pattern) -%}
    {%- if target.type == 'duckdb' -%}
        coalesce(len(list_filter(
            cast(json_extract_string({{ array_column }}, '$[*]') as varchar[]),
            item -> regexp_matches(item, '{{ pattern }}', 'i'))) > 0, false)
    {%- else -%}
        coalesce(exists (select 1 from unnest({{ array_column }}) as item(name)
                         where item.name ~* '{{ pattern }}'), false)
    {%- endif -%}
{%- endmacro %}

{# A uuid derived from another uuid and a kind: stable across runs, distinct per kind. #}
{% macro derived_uuid(base_uuid, kind) -%}
    {%- set digest = "md5(cast(" ~ base_uuid ~ " as " ~ dbt.type_string() ~ ") || ':" ~ kind ~ "')" -%}
    cast(substr({{ digest }}, 1, 8) || '-' || substr({{ digest }}, 9, 4) || '-'
         || substr({{ digest }}, 13, 4) || '-' || substr({{ digest }}, 17, 4) || '-'
         || substr({{ digest }}, 21, 12) as {{ dbt.type_string() }})
{%- endmacro %}

{# The last row per key of a loaded table: loaders that upsert hold one already; append-only
   loads (JSON Lines) hold every emitted version, and the newest by `order_by` wins. #}
{% macro latest_per_key(table, key, order_by) -%}
    select *
    from (
        select loaded.*,
               row_number() over (partition by {{ key }} order by {{ order_by }} desc nulls last)
                   as row_rank_
        from {{ source('github', table) }} as loaded
    ) as ranked
    where row_rank_ = 1
{%- endmacro %}

{# The day the "today" marts are computed for. #}
{% macro as_of_date() -%}
    {%- if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}

{# Text of any value (uuid columns are uuid in PostgreSQL, text in DuckDB). #}
{% macro as_text(expression) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}
