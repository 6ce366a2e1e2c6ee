{{ config(materialized='table') }}
{#- The as-of month spine: `history_months` as-of months ending at the newest one (var
    `as_of_month`, else the last complete month of the extract), with every date boundary the
    feature and outcome models need, so no model re-derives them.

    The orchestrator sets both through the environment (POWERSEG_AS_OF_MONTH,
    POWERSEG_HISTORY_MONTHS): a change of --vars makes dbt re-parse the whole project, a
    change of an environment variable only the files that read it. A --vars as_of_month on
    the command line wins over the environment; POWERSEG_HISTORY_MONTHS over the project's
    history_months. -#}
{%- set as_of_month = var('as_of_month') or env_var('POWERSEG_AS_OF_MONTH', '') -%}
{%- if as_of_month and not modules.re.match('^[0-9]{4}-(0[1-9]|1[0-2])$', as_of_month | string) -%}
    {{ exceptions.raise_compiler_error("var as_of_month must look like 'YYYY-MM', got '" ~ as_of_month ~ "'") }}
{%- endif -%}
{%- set history_months = (env_var('POWERSEG_HISTORY_MONTHS', '') or var('history_months')) | int -%}
{%- set outcome_months = var('outcome_months') | int -%}
{%- if history_months < 1 or outcome_months < 1 -%}
    {{ exceptions.raise_compiler_error("vars history_months and outcome_months must be at least 1") }}
{%- endif -%}

with

extract_window as (
    select * from {{ ref('stg_raw__extract_window') }}
),

month_offsets as (
    {{ dbt.generate_series(history_months) }}
),

newest as (
    select
        {% if as_of_month -%}
        {{ date_literal(as_of_month ~ '-01') }}
        {%- else -%}
        last_complete_month
        {%- endif %} as newest_as_of_month,
        extract_start_date,
        extract_end_date
    from extract_window
),

as_of_months as (
    select
        {{ add_months('newest.newest_as_of_month', '-(month_offsets.generated_number - 1)') }}
            as as_of_month,
        newest.extract_start_date,
        newest.extract_end_date
    from newest
    cross join month_offsets
),

with_boundaries as (
    select
        as_of_month,
        {{ dbt.last_day('as_of_month', 'month') }} as as_of_month_end_date,
        {{ add_months('as_of_month', 1) }} as next_month_start_date,
        {{ add_months('as_of_month', -11) }} as window_12m_start_month,
        {{ add_months('as_of_month', -2) }} as window_3m_start_month,
        {{ add_months('as_of_month', 1) }} as outcome_window_start_date,
        cast({{ dbt.dateadd('day', -1, add_months('as_of_month', outcome_months + 1)) }} as date)
            as outcome_window_end_date,
        extract_start_date,
        extract_end_date
    from as_of_months
    -- an as-of month before the extract starts has no data to describe anyone
    where as_of_month >= {{ dbt.date_trunc('month', 'extract_start_date') }}
),

with_known_date as (
    select
        with_boundaries.*,
        -- the day every label of the window is final (arrears need their grace days too)
        cast({{ dbt.dateadd(
            'day', threshold('arrears_days_after_due'), 'outcome_window_end_date') }} as date)
            as outcome_known_date
    from with_boundaries
),

with_closure as (
    select
        with_known_date.*,
        extract_end_date >= outcome_known_date as outcome_window_closed
    from with_known_date
)

select * from with_closure
