{#- Contribution-value features (fuzzy c-means inputs): revenue, billed energy, unit price,
    growth, load factor, capacity utilisation, tenure and payment reliability. -#}
with

active_customers as (
    select customer_id, as_of_month, contracted_capacity_kva, tenure_months
    from {{ ref('int_active_customers_spined') }}
),

billing as (
    select * from {{ ref('int_billing_windows_aggregated') }}
),

consumption as (
    select * from {{ ref('int_consumption_windows_aggregated') }}
),

features as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        coalesce(billing.revenue_12m_cny, 0) as revenue_12m_cny,
        coalesce(billing.billed_kwh_12m, 0) as kwh_12m,
        case when billing.billed_kwh_12m > 0
            then billing.revenue_12m_cny / billing.billed_kwh_12m else 0 end as unit_price_cny_per_kwh,
        case
            when billing.bills_last_6m > 0 and billing.bills_prior_6m > 0 and billing.billed_kwh_prior_6m > 0
            then (billing.billed_kwh_last_6m / billing.bills_last_6m)
                / (billing.billed_kwh_prior_6m / billing.bills_prior_6m) - 1
            else 0
        end as kwh_growth_ratio,
        case when consumption.mean_max_demand_kw_12m > 0
            then consumption.mean_daily_kwh_12m / (24 * consumption.mean_max_demand_kw_12m)
            else 0 end as load_factor,
        case when active_customers.contracted_capacity_kva > 0 and consumption.mean_max_demand_kw_12m is not null
            then consumption.mean_max_demand_kw_12m / active_customers.contracted_capacity_kva
            else 0 end as capacity_utilisation,
        active_customers.tenure_months,
        case when billing.bills_due_12m > 0
            then cast(billing.bills_due_12m - billing.late_bills_due_12m as {{ type_double() }})
                / billing.bills_due_12m
            else 1 end as on_time_payment_rate_12m
    from active_customers
    left join billing
        on active_customers.customer_id = billing.customer_id
        and active_customers.as_of_month = billing.as_of_month
    left join consumption
        on active_customers.customer_id = consumption.customer_id
        and active_customers.as_of_month = consumption.as_of_month
)

select * from features
