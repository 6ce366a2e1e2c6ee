{{ config(materialized='table') }}
{#- Per customer and as-of month, for each interaction channel over the 12 months ending at the
    as-of month: how often (frequency), how broadly (distinct actions) and when last (recency)
    it was used. Interactions are first rolled up to one row per customer and month, with per
    channel a count, the last time and a bit mask of the actions done (one bit per action);
    the 12-month windows then sum counts and OR masks over months, so neither every event nor a
    row per channel is carried into the lookback join. Stored: the channel mart and its tests
    read it. -#}
{%- set interaction_columns = contract_tables()['channel_interactions']['columns'] -%}
{%- set channels = (interaction_columns | selectattr('name', 'equalto', 'channel') | first)['allowed'] -%}
{%- set actions = (interaction_columns | selectattr('name', 'equalto', 'action') | first)['allowed'] -%}
{%- set digital_channels = ['app', 'wechat', 'web'] -%}
{%- set months = built_as_of_months() or [none] -%}
-- depends_on: {{ ref('int_as_of_months') }}
with

interactions as (
    select
        customer_id,
        channel,
        occurred_at,
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as occurred_month,
        case action
            {% for action in actions -%}
            when '{{ action }}' then {{ 2 ** loop.index0 }}
            {% endfor -%}
        end as action_bit
    from {{ ref('stg_raw__channel_interactions') }}
),

lookback_months as (
    select as_of_month, lookback_month from {{ ref('int_lookback_months_expanded') }}
),

as_of_months as (
    select as_of_month, as_of_month_end_date from {{ ref('int_as_of_months') }}
),

customer_months as (
    select
        customer_id,
        occurred_month,
        {% for channel in channels -%}
        count(*) filter (where channel = '{{ channel }}') as {{ channel }}_interactions,
        {{ bit_or_agg('action_bit') }} filter (where channel = '{{ channel }}') as {{ channel }}_action_mask,
        max(occurred_at) filter (where channel = '{{ channel }}') as {{ channel }}_last_occurred_at{% if not loop.last %},{% endif %}
        {% endfor %}
    from interactions
    group by customer_id, occurred_month
),

{#- The windows one as-of month at a time, over the customer months rolled up once: grouping
    every customer and as-of month at once spills at 10^6 customers. -#}
{% for month in months -%}
customer_windows_{{ loop.index }} as (
    select
        customer_months.customer_id,
        lookback_months.as_of_month,
        {% for channel in channels -%}
        cast(sum(customer_months.{{ channel }}_interactions) as {{ dbt.type_bigint() }})
            as {{ channel }}_frequency_12m,
        cast(coalesce({{ distinct_flags_count('customer_months.' ~ channel ~ '_action_mask') }}, 0)
            as {{ dbt.type_int() }}) as {{ channel }}_breadth_12m,
        max(customer_months.{{ channel }}_last_occurred_at) as {{ channel }}_last_occurred_at{% if not loop.last %},{% endif %}
        {% endfor %}
    from customer_months
    inner join lookback_months
        on customer_months.occurred_month = lookback_months.lookback_month
    {% if month %}where lookback_months.as_of_month = date '{{ month }}'{% endif %}
    group by customer_months.customer_id, lookback_months.as_of_month
),

{% endfor -%}
customer_windows as (
    {% for month in months -%}
    select * from customer_windows_{{ loop.index }}
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}
),

with_recency as (
    select
        customer_windows.customer_id,
        customer_windows.as_of_month,
        {% for channel in channels -%}
        {{ days_between('cast(customer_windows.' ~ channel ~ '_last_occurred_at as date)', 'as_of_months.as_of_month_end_date') }}
            as {{ channel }}_recency_days,
        customer_windows.{{ channel }}_frequency_12m,
        customer_windows.{{ channel }}_breadth_12m,
        {% endfor -%}
        {% for channel in channels -%}
        case when customer_windows.{{ channel }}_frequency_12m > 0 then 1 else 0 end{% if not loop.last %} + {% endif %}
        {% endfor -%}
            as channels_used_12m,
        {% for channel in channels -%}
        customer_windows.{{ channel }}_frequency_12m{% if not loop.last %} + {% endif %}
        {% endfor -%}
            as interactions_12m,
        {% for channel in digital_channels -%}
        customer_windows.{{ channel }}_frequency_12m{% if not loop.last %} + {% endif %}
        {% endfor -%}
            as digital_interactions_12m
    from customer_windows
    inner join as_of_months
        on customer_windows.as_of_month = as_of_months.as_of_month
)

select * from with_recency
