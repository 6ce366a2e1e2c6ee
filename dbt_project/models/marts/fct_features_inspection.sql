{#- Inspection (theft) risk features: consumption drop against the customer's own past and its
    peers, read gaps, meter events and inspection history. Consumption here is metered kWh
    (the daily reads), where theft shows first. -#}
{%- set event_types = contract_tables()['meter_events']['columns']
    | selectattr('name', 'equalto', 'event_type') | map(attribute='allowed') | first -%}
with

active_customers as (
    select customer_id, as_of_month, customer_type, contracted_capacity_kva
    from {{ ref('int_active_customers_spined') }}
),

consumption as (
    select * from {{ ref('int_consumption_windows_aggregated') }}
),

peers as (
    select customer_id, as_of_month, peer_deviation from {{ ref('int_consumption_peers_compared') }}
),

meter_events as (
    select * from {{ ref('int_meter_event_windows_aggregated') }}
),

inspections as (
    select * from {{ ref('int_inspection_histories_aggregated') }}
),

features as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        active_customers.customer_type,
        active_customers.contracted_capacity_kva,
        coalesce(consumption.metered_kwh_3m, 0) as kwh_3m,
        coalesce(consumption.monthly_kwh_prior_9m, 0) as kwh_prior_9m_monthly_avg,
        case when consumption.monthly_kwh_3m is not null and consumption.monthly_kwh_prior_9m > 0
            then 1 - consumption.monthly_kwh_3m / consumption.monthly_kwh_prior_9m
            else 0 end as consumption_drop_ratio,
        coalesce(peers.peer_deviation, 0) as peer_deviation,
        coalesce(consumption.zero_read_days_3m, 0) as zero_read_days_3m,
        case when consumption.read_days_3m > 0
            then cast(consumption.missing_read_days_3m as {{ type_double() }}) / consumption.read_days_3m
            else 0 end as missing_read_share_3m,
        {% for event_type in event_types -%}
        coalesce(meter_events.{{ event_type }}_12m, 0) as {{ event_type }}_12m,
        {% endfor -%}
        coalesce(meter_events.meter_events_3m, 0) as meter_events_3m,
        coalesce(inspections.past_inspections, 0) as past_inspections,
        coalesce(inspections.past_positive_inspections, 0) as past_positive_inspections,
        inspections.months_since_last_inspection
    from active_customers
    left join consumption
        on active_customers.customer_id = consumption.customer_id
        and active_customers.as_of_month = consumption.as_of_month
    left join peers
        on active_customers.customer_id = peers.customer_id
        and active_customers.as_of_month = peers.as_of_month
    left join meter_events
        on active_customers.customer_id = meter_events.customer_id
        and active_customers.as_of_month = meter_events.as_of_month
    left join inspections
        on active_customers.customer_id = inspections.customer_id
        and active_customers.as_of_month = inspections.as_of_month
)

select * from features
