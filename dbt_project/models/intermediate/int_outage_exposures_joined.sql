{{ config(materialized='table') }}
{#- Which customers each outage hit, through supply_topology: a feeder-level outage (no
    transformer given) hits every customer on the feeder, a transformer-level one only that
    transformer's customers. Each exposure carries the customer's first complaint or fault
    report about an outage filed within the contact window (72 h) after the outage started. -#}
with

outages as (
    select * from {{ ref('stg_raw__outages') }}
),

topology as (
    select customer_id, transformer_id, feeder_id from {{ ref('stg_raw__supply_topology') }}
),

outage_tickets as (
    select customer_id, created_at
    from {{ ref('stg_raw__work_orders') }}
    where topic = 'outage' and ticket_type in ('complaint', 'fault_report')
),

contact_window as (
    select {{ threshold('outage_contact_window_hours') }} as contact_window_hours
),

feeder_exposures as (
    select outages.outage_id, topology.customer_id
    from outages
    inner join topology
        on outages.feeder_id = topology.feeder_id
    where outages.transformer_id is null
),

transformer_exposures as (
    select outages.outage_id, topology.customer_id
    from outages
    inner join topology
        on outages.transformer_id = topology.transformer_id
),

exposures as (
    select outage_id, customer_id from feeder_exposures
    union all
    select outage_id, customer_id from transformer_exposures
),

exposures_with_outage as (
    select
        exposures.outage_id,
        exposures.customer_id,
        outages.start_at,
        outages.end_at,
        cast({{ dbt.date_trunc('month', 'outages.start_at') }} as date) as start_month,
        {{ dbt.datediff('outages.start_at', 'outages.end_at', 'minute') }} as outage_minutes,
        outages.planned,
        outages.cause,
        case when outages.transformer_id is null then 'feeder' else 'transformer' end as outage_level,
        {{ dbt.dateadd('hour', 'contact_window.contact_window_hours', 'outages.start_at') }}
            as contact_window_end_at
    from exposures
    inner join outages
        on exposures.outage_id = outages.outage_id
    cross join contact_window
),

first_contacts as (
    select
        exposures_with_outage.outage_id,
        exposures_with_outage.customer_id,
        min(outage_tickets.created_at) as first_contact_at
    from exposures_with_outage
    inner join outage_tickets
        on exposures_with_outage.customer_id = outage_tickets.customer_id
        and outage_tickets.created_at >= exposures_with_outage.start_at
        and outage_tickets.created_at <= exposures_with_outage.contact_window_end_at
    group by exposures_with_outage.outage_id, exposures_with_outage.customer_id
),

joined as (
    select
        exposures_with_outage.*,
        first_contacts.first_contact_at,
        first_contacts.first_contact_at is not null as contacted_within_window
    from exposures_with_outage
    left join first_contacts
        on exposures_with_outage.outage_id = first_contacts.outage_id
        and exposures_with_outage.customer_id = first_contacts.customer_id
)

select * from joined
