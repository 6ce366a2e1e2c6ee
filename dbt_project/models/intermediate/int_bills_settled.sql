{{ config(materialized='table') }}
{#- Each bill with when it was settled: payments against the bill (same customer and bill
    month) accumulate in time order, and the bill is fully paid at the first payment that brings
    the running total to its amount (less a rounding tolerance). A bill with nothing to pay
    counts as settled on the last day of its month. days_late_final is as of the extract end;
    as-of-month views of lateness are computed downstream from settled_date. -#}
with

bills as (
    select * from {{ ref('stg_raw__bills') }}
),

payments as (
    select payment_id, customer_id, bill_month, paid_at, amount_cny
    from {{ ref('stg_raw__payments') }}
),

tolerance as (
    select {{ threshold('payment_settled_tolerance_cny') }} as tolerance_cny
),

payments_on_bills as (
    select
        payments.customer_id,
        payments.bill_month,
        payments.paid_at,
        sum(payments.amount_cny) over (
            partition by payments.customer_id, payments.bill_month
            order by payments.paid_at, payments.payment_id
            rows between unbounded preceding and current row
        ) as cumulative_paid_cny
    from payments
    inner join bills
        on payments.customer_id = bills.customer_id
        and payments.bill_month = bills.bill_month
),

payment_totals as (
    select
        payments_on_bills.customer_id,
        payments_on_bills.bill_month,
        count(*) as payment_count,
        min(payments_on_bills.paid_at) as first_paid_at,
        max(payments_on_bills.cumulative_paid_cny) as paid_amount_cny,
        min(case
            when payments_on_bills.cumulative_paid_cny >= bills.amount_cny - tolerance.tolerance_cny
            then payments_on_bills.paid_at
        end) as fully_paid_at
    from payments_on_bills
    inner join bills
        on payments_on_bills.customer_id = bills.customer_id
        and payments_on_bills.bill_month = bills.bill_month
    cross join tolerance
    group by payments_on_bills.customer_id, payments_on_bills.bill_month
),

settled as (
    select
        bills.customer_id,
        bills.bill_month,
        bills.billed_kwh,
        bills.amount_cny,
        bills.due_date,
        coalesce(payment_totals.payment_count, 0) as payment_count,
        coalesce(payment_totals.paid_amount_cny, 0) as paid_amount_cny,
        payment_totals.first_paid_at,
        payment_totals.fully_paid_at,
        bills.amount_cny <= tolerance.tolerance_cny as is_zero_amount,
        case
            when bills.amount_cny <= tolerance.tolerance_cny
                then {{ dbt.last_day('bills.bill_month', 'month') }}
            else cast(payment_totals.fully_paid_at as date)
        end as settled_date
    from bills
    cross join tolerance
    left join payment_totals
        on bills.customer_id = payment_totals.customer_id
        and bills.bill_month = payment_totals.bill_month
),

with_lateness as (
    select
        settled.*,
        settled_date is not null and settled_date <= due_date as is_paid_on_time,
        case
            when settled_date is null then null
            when settled_date <= due_date then 0
            else {{ days_between('due_date', 'settled_date') }}
        end as days_late_final
    from settled
)

select * from with_lateness
