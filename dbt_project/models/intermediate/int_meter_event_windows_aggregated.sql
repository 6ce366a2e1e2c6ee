{#- Meter events per customer by type over the 12 months, and in all over the 3 months, ending
    at each as-of month. -#}
{%- set event_types = contract_tables()['meter_events']['columns']
    | selectattr('name', 'equalto', 'event_type') | map(attribute='allowed') | first -%}
with

meter_events as (
    select
        customer_id,
        event_type,
        cast({{ dbt.date_trunc('month', 'event_time') }} as date) as event_month
    from {{ ref('stg_raw__meter_events') }}
),

lookback_months as (
    select * from {{ ref('int_lookback_months_expanded') }}
),

windowed as (
    select
        meter_events.customer_id,
        lookback_months.as_of_month,
        {% for event_type in event_types -%}
        count(case when meter_events.event_type = '{{ event_type }}' then 1 end)
            as {{ event_type }}_12m,
        {% endfor -%}
        count(*) as meter_events_12m,
        count(case when lookback_months.months_back < 3 then 1 end) as meter_events_3m
    from meter_events
    inner join lookback_months
        on meter_events.event_month = lookback_months.lookback_month
    group by meter_events.customer_id, lookback_months.as_of_month
)

select * from windowed
