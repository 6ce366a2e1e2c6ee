{#- Cross-database shims. dbt's own macros (dbt.dateadd, dbt.datediff, dbt.date_trunc, ...) are
    used directly; these cover what dbt does not ship, with a DuckDB implementation and a
    default that Spark and Trino accept. -#}

{#- dbt-duckdb inherits dbt's default safe_cast, a plain cast that raises on bad input;
    DuckDB's try_cast returns null, which quarantine needs. Found through the dispatch
    search order in dbt_project.yml. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
{#- dbt-spark's is a plain cast, which returns null only while ANSI mode is off. -#}
{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- Date arithmetic on Spark with DuckDB's meaning, shadowing dbt-spark's macros (which raise on
    a null date, through assert_true, and count whole elapsed months instead of boundaries):
    - dateadd gives a timestamp, as DuckDB's `date + interval` does; a fractional amount rounds
      to the nearest whole unit (DuckDB casts it to bigint);
    - datediff counts the unit's boundaries crossed (DuckDB's date_diff): 31 Jan to 1 Feb is
      one month, 10:00:59 to 10:01:00 one minute. Both are null when a date is null. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set unit = {'week': 'WEEK', 'quarter': 'QUARTER'}.get(datepart | lower, datepart | upper) -%}
    cast(timestampadd({{ unit }}, cast(round({{ interval }}) as bigint),
        cast({{ from_date_or_timestamp }} as {{ dbt.type_timestamp() }})) as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- set unit = datepart | lower -%}
    {%- if unit == 'day' -%}
        cast(datediff(cast({{ second_date }} as date), cast({{ first_date }} as date)) as bigint)
    {%- elif unit == 'month' -%}
        cast((year({{ second_date }}) - year({{ first_date }})) * 12
            + month({{ second_date }}) - month({{ first_date }}) as bigint)
    {%- elif unit == 'year' -%}
        cast(year({{ second_date }}) - year({{ first_date }}) as bigint)
    {%- elif unit in ('hour', 'minute', 'second') -%}
        timestampdiff({{ unit | upper }},
            date_trunc('{{ unit }}', cast({{ first_date }} as {{ dbt.type_timestamp() }})),
            date_trunc('{{ unit }}', cast({{ second_date }} as {{ dbt.type_timestamp() }})))
    {%- else -%}
        {{ exceptions.raise_compiler_error("datediff by '" ~ datepart ~ "' is not implemented on Spark") }}
    {%- endif -%}
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
{#- Exact and interpolated between the two middle values, as DuckDB's median. -#}
{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
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

{#- Distinct days among a group's rows that all fall in one calendar month: on DuckDB the bits
    of a per-month day mask counted, far cheaper than count(distinct) over tens of millions of
    rows. -#}
{% macro distinct_days_in_month(day_column) -%}
    {{ return(adapter.dispatch('distinct_days_in_month', 'powerseg')(day_column)) }}
{%- endmacro %}
{% macro default__distinct_days_in_month(day_column) -%}
    count(distinct {{ day_column }})
{%- endmacro %}
{% macro duckdb__distinct_days_in_month(day_column) -%}
    bit_count(bit_or(cast(1 as bigint) << cast(dayofmonth({{ day_column }}) as bigint)))
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
    {{ return("count(*) <> " ~ distinct_days_in_month(day_column)) }}
{%- endmacro %}

{#- 64-bit floating point (dbt.type_float() is a 32-bit FLOAT on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'powerseg')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double{%- endmacro %}

{#- Number of distinct flags set over a group, where each row carries a bit mask of flags
    (e.g. one bit per action): the bitwise OR of the masks, counted. Lets a window count
    distinct values from pre-aggregated rows without going back to every event. -#}
{% macro distinct_flags_count(mask_expression) -%}
    {{ return(adapter.dispatch('distinct_flags_count', 'powerseg')(mask_expression)) }}
{%- endmacro %}
{% macro default__distinct_flags_count(mask_expression) -%}
    bit_count({{ bit_or_agg(mask_expression) }})
{%- endmacro %}
{% macro trino__distinct_flags_count(mask_expression) -%}
    bit_count({{ bit_or_agg(mask_expression) }}, 64)
{%- endmacro %}

{#- The bitwise OR of a group's masks (0 when the group is empty). -#}
{% macro bit_or_agg(mask_expression) -%}
    {{ return(adapter.dispatch('bit_or_agg', 'powerseg')(mask_expression)) }}
{%- endmacro %}
{% macro default__bit_or_agg(mask_expression) -%}
    bit_or({{ mask_expression }})
{%- endmacro %}
{% macro trino__bit_or_agg(mask_expression) -%}
    bitwise_or_agg({{ mask_expression }})
{%- endmacro %}
