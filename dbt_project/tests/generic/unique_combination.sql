{#- Fails with one row per combination of `columns` that occurs more than once.

    `day_column` (optional, one of `columns`, a DATE): on adapters with a day-bitmask
    shortcut, only months in which some combination repeats a day are checked exactly, which
    turns an aggregate over every key of a big daily table into an aggregate over months.
    The model is named in each CTE that reads it (no shared CTE) so a big view is never
    materialised for the test. -#}
{% test unique_combination(model, columns, day_column=none) %}
{%- set bitmask_condition = day_bitmask_duplicate_condition(day_column) if day_column else none -%}
{%- set other_columns = columns | reject('equalto', day_column) | list -%}

with

{% if bitmask_condition -%}
months_with_repeated_days as (
    select
        {% for name in other_columns %}{{ name }}, {% endfor %}{{ dbt.date_trunc('month', day_column) }} as tested_month
    from {{ model }}
    group by {% for name in other_columns %}{{ name }}, {% endfor %}{{ dbt.date_trunc('month', day_column) }}
    having {{ bitmask_condition }}
),

candidates as (
    select {% for name in columns %}tested.{{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ model }} as tested
    inner join months_with_repeated_days
        on {% for name in other_columns %}tested.{{ name }} = months_with_repeated_days.{{ name }}
        and {% endfor %}{{ dbt.date_trunc('month', 'tested.' ~ day_column) }} = months_with_repeated_days.tested_month
),
{%- else -%}
candidates as (
    select {{ columns | join(', ') }} from {{ model }}
),
{%- endif %}

repeated as (
    select {{ columns | join(', ') }}, count(*) as occurrences
    from candidates
    group by {{ columns | join(', ') }}
    having count(*) > 1
)

select * from repeated
{% endtest %}
