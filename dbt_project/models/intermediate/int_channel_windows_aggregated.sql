{#- Per customer and as-of month, for each interaction channel over the 12 months ending at the
    as-of month: how often (frequency), how broadly (distinct actions) and when last (recency)
    it was used. Interactions are first rolled up to customer x month x channel with a count
    per action, so the 12-month breadth comes from months, not from every event again. -#}
{%- set interaction_columns = contract_tables()['channel_interactions']['columns'] -%}
{%- set channels = (interaction_columns | selectattr('name', 'equalto', 'channel') | first)['allowed'] -%}
{%- set actions = (interaction_columns | selectattr('name', 'equalto', 'action') | first)['allowed'] -%}
{%- set digital_channels = ['app', 'wechat', 'web'] -%}
with

interactions as (
    select
        customer_id,
        channel,
        action,
        occurred_at,
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as occurred_month
    from {{ ref('stg_raw__channel_interactions') }}
),

lookback_months as (
    select * from {{ ref('int_lookback_months_expanded') }}
),

as_of_months as (
    select as_of_month, as_of_month_end_date from {{ ref('int_as_of_months') }}
),

customer_channel_months as (
    select
        customer_id,
        channel,
        occurred_month,
        count(*) as interactions,
        {% for action in actions -%}
        sum(case when action = '{{ action }}' then 1 else 0 end) as {{ action }}_interactions,
        {% endfor -%}
        max(occurred_at) as last_occurred_at
    from interactions
    group by customer_id, channel, occurred_month
),

customer_channel_windows as (
    select
        customer_channel_months.customer_id,
        lookback_months.as_of_month,
        customer_channel_months.channel,
        sum(customer_channel_months.interactions) as frequency_12m,
        {% for action in actions -%}
        sum(customer_channel_months.{{ action }}_interactions) as {{ action }}_interactions_12m,
        {% endfor -%}
        max(customer_channel_months.last_occurred_at) as last_occurred_at
    from customer_channel_months
    inner join lookback_months
        on customer_channel_months.occurred_month = lookback_months.lookback_month
    group by customer_channel_months.customer_id, lookback_months.as_of_month, customer_channel_months.channel
),

customer_windows as (
    select
        customer_id,
        as_of_month,
        {% for channel in channels -%}
        max(case when channel = '{{ channel }}' then last_occurred_at end) as {{ channel }}_last_occurred_at,
        sum(case when channel = '{{ channel }}' then frequency_12m else 0 end) as {{ channel }}_frequency_12m,
        sum(case when channel = '{{ channel }}' then
            {% for action in actions -%}
            case when {{ action }}_interactions_12m > 0 then 1 else 0 end{% if not loop.last %} + {% endif %}
            {% endfor -%}
        else 0 end) as {{ channel }}_breadth_12m,
        {% endfor -%}
        count(*) as channels_used_12m,
        sum(frequency_12m) as interactions_12m,
        sum(case when channel in ('{{ digital_channels | join("', '") }}') then frequency_12m else 0 end)
            as digital_interactions_12m
    from customer_channel_windows
    group by customer_id, as_of_month
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
        customer_windows.channels_used_12m,
        customer_windows.interactions_12m,
        customer_windows.digital_interactions_12m
    from customer_windows
    inner join as_of_months
        on customer_windows.as_of_month = as_of_months.as_of_month
)

select * from with_recency
