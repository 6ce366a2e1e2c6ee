{#- Outage-sensitivity features (logistic regression inputs): outages experienced and the
    customer's reactions to them, ticket history, the SERVQUAL reliability gap and size. -#}
with

active_customers as (
    select customer_id, as_of_month, contracted_capacity_kva
    from {{ ref('int_active_customers_spined') }}
),

customers as (
    select customer_id, customer_type, importance_grade from {{ ref('stg_raw__customers') }}
),

outages as (
    select * from {{ ref('int_outage_windows_aggregated') }}
),

tickets as (
    select * from {{ ref('int_ticket_windows_aggregated') }}
),

surveys as (
    select * from {{ ref('int_survey_gaps_latest') }}
),

billing as (
    select customer_id, as_of_month, billed_kwh_12m from {{ ref('int_billing_windows_aggregated') }}
),

features as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        coalesce(outages.outages_experienced_12m, 0) as outages_experienced_12m,
        coalesce(outages.unplanned_outages_12m, 0) as unplanned_outages_12m,
        coalesce(outages.outage_minutes_12m, 0) as outage_minutes_12m,
        coalesce(outages.outage_contacts_72h_12m, 0) as outage_contacts_72h_12m,
        case when outages.outages_experienced_12m > 0
            then cast(outages.outage_contacts_72h_12m as {{ type_double() }}) / outages.outages_experienced_12m
            else 0 end as outage_contact_rate_12m,
        coalesce(tickets.complaints_12m, 0) as complaints_12m,
        coalesce(tickets.fault_reports_12m, 0) as fault_reports_12m,
        coalesce(tickets.tickets_12m, 0) as tickets_12m,
        surveys.reliability_gap,
        customers.importance_grade <> 'none' as is_important,
        customers.customer_type <> 'residential' as is_business,
        active_customers.contracted_capacity_kva,
        coalesce(billing.billed_kwh_12m, 0) as kwh_12m
    from active_customers
    inner join customers
        on active_customers.customer_id = customers.customer_id
    left join outages
        on active_customers.customer_id = outages.customer_id
        and active_customers.as_of_month = outages.as_of_month
    left join tickets
        on active_customers.customer_id = tickets.customer_id
        and active_customers.as_of_month = tickets.as_of_month
    left join surveys
        on active_customers.customer_id = surveys.customer_id
        and active_customers.as_of_month = surveys.as_of_month
    left join billing
        on active_customers.customer_id = billing.customer_id
        and active_customers.as_of_month = billing.as_of_month
)

select * from features
