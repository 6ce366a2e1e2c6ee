{#- Arrears-risk scorecard inputs, from customers, bills and payments only (a billing extract
    has nothing else), so this mart is complete even when every other raw table is empty. -#}
with

active_customers as (
    select * from {{ ref('int_active_customers_spined') }}
),

customers as (
    select customer_id, tariff from {{ ref('stg_raw__customers') }}
),

billing as (
    select * from {{ ref('int_billing_windows_aggregated') }}
),

features as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        active_customers.customer_type,
        customers.tariff,
        active_customers.tenure_months,
        coalesce(billing.bills_12m, 0) as bills_12m,
        case when billing.bills_12m > 0
            then billing.revenue_12m_cny / billing.bills_12m else 0 end as avg_bill_cny,
        coalesce(billing.late_bills_due_12m, 0) as late_payments_12m,
        case when billing.bills_due_12m > 0
            then cast(billing.late_bills_due_12m as {{ type_double() }}) / billing.bills_due_12m
            else 0 end as late_payment_rate_12m,
        case when billing.bills_due_12m > 0
            then cast(billing.days_late_sum_12m as {{ type_double() }}) / billing.bills_due_12m
            else 0 end as avg_days_late_12m,
        coalesce(billing.max_days_late_12m, 0) as max_days_late_12m,
        coalesce(billing.partial_payments_12m, 0) as partial_payments_12m,
        coalesce(billing.unpaid_bills_at_as_of, 0) as unpaid_bills_at_as_of,
        coalesce(billing.unpaid_amount_at_as_of_cny, 0) as unpaid_amount_at_as_of_cny,
        case when billing.payments_12m > 0
            then cast(billing.auto_debit_payments_12m as {{ type_double() }}) / billing.payments_12m
            else 0 end as auto_debit_share_12m,
        case when billing.last_late_due_date is not null
            then {{ dbt.datediff('billing.last_late_due_date', 'active_customers.as_of_month_end_date', 'month') }}
            else active_customers.tenure_months end as months_since_last_late,
        case when billing.bills_3m > 0 and billing.revenue_12m_cny > 0
            then (billing.revenue_3m_cny / billing.bills_3m) / (billing.revenue_12m_cny / billing.bills_12m)
            else 1 end as bill_amount_trend
    from active_customers
    inner join customers
        on active_customers.customer_id = customers.customer_id
    left join billing
        on active_customers.customer_id = billing.customer_id
        and active_customers.as_of_month = billing.as_of_month
)

select * from features
