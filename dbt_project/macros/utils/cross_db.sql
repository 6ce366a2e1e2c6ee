{#- Cross-database shims. dbt's own macros (dbt.dateadd, dbt.datediff, dbt.date_trunc, ...) are
    used directly; these cover what dbt does not ship, with a DuckDB implementation and a
    default that Spark and Trino accept. -#}

{#- dbt-duckdb inherits dbt's default safe_cast, a plain cast that raises on bad input;
    DuckDB's try_cast returns null, which quarantine needs. Found through the dispatch
    search order in dbt_project.yml. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{% macro sha256(expression) -%}
    {{ return(adapter.dispatch('sha256', 'powerseg')(expression)) }}
{%- endmacro %}
{% macro default__sha256(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}
{% macro duckdb__sha256(expression) -%}
    sha256({{ expression }})
{%- endmacro %}
{% macro trino__sha256(expression) -%}
    lower(to_hex(sha256(to_utf8({{ expression }}))))
{%- endmacro %}

{#- Upper-case letters and digits only: 'ab-12 34' and 'AB1234' are the same identity. -#}
{% macro normalise_identity(expression) -%}
    {{ return(adapter.dispatch('normalise_identity', 'powerseg')(expression)) }}
{%- endmacro %}
{% macro default__normalise_identity(expression) -%}
    nullif(upper(regexp_replace(trim({{ expression }}), '[^0-9A-Za-z]', '')), '')
{%- endmacro %}
{% macro duckdb__normalise_identity(expression) -%}
    nullif(upper(regexp_replace(trim({{ expression }}), '[^0-9A-Za-z]', '', 'g')), '')
{%- endmacro %}

{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'powerseg')(expression)) }}
{%- endmacro %}
{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}
{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}
{% macro spark__median(expression) -%}
    percentile_approx({{ expression }}, 0.5)
{%- endmacro %}
{% macro trino__median(expression) -%}
    approx_percentile({{ expression }}, 0.5)
{%- endmacro %}

{#- A date literal. -#}
{% macro date_literal(iso_date) -%}
    cast('{{ iso_date }}' as date)
{%- endmacro %}

{#- Whole days from one date to another (second minus first). -#}
{% macro days_between(first_date, second_date) -%}
    {{ dbt.datediff(first_date, second_date, 'day') }}
{%- endmacro %}

{#- First day of the month `months` after the month starting at `month_start` (a date). -#}
{% macro add_months(month_start, months) -%}
    cast({{ dbt.dateadd('month', months, month_start) }} as date)
{%- endmacro %}

{#- Exact duplicate finding on (other key columns, day) is an aggregate over every key; on
    DuckDB a per-month bitmask of days finds the few months with a duplicated day in one
    cheap aggregate first. Returns none where no such shortcut exists. -#}
{% macro day_bitmask_duplicate_condition(day_column) -%}
    {{ return(adapter.dispatch('day_bitmask_duplicate_condition', 'powerseg')(day_column)) }}
{%- endmacro %}
{% macro default__day_bitmask_duplicate_condition(day_column) -%}
    {{ return(none) }}
{%- endmacro %}
{% macro duckdb__day_bitmask_duplicate_condition(day_column) -%}
    {{ return("count(*) <> bit_count(bit_or(cast(1 as bigint) << cast(dayofmonth(" ~ day_column ~ ") as bigint)))") }}
{%- endmacro %}

{#- 64-bit floating point (dbt.type_float() is a 32-bit FLOAT on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'powerseg')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double{%- endmacro %}
