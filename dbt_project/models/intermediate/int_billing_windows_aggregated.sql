{{ config(materialized='table') }}
{#- Billing and payment behaviour per customer and as-of month, using only what was known at
    the end of the as-of month: a bill due by then that was not settled by its due date is
    late (its days late count up to the as-of date while unpaid), and a bill is unpaid at the
    as-of date when it is past due and its payments up to then fall short. -#}
{#- Built one as-of month at a time (see customer_360): the windows of all months at once
    spill at 10^6 customers. -#}
-- depends_on: {{ ref('int_as_of_months') }}
{%- set months = built_as_of_months() or [none] %}
{% for month in months -%}
select * from (
with

bills as (
    select * from {{ ref('int_bills_settled') }}
),

payments as (
    select * from {{ ref('int_payments_matched') }}
),

as_of_months as (
    select as_of_month, as_of_month_end_date, next_month_start_date, window_12m_start_month
    from {{ ref('int_as_of_months') }} {{ in_as_of_month(month) }}
),

lookback_months as (
    select * from {{ ref('int_lookback_months_expanded') }} {{ in_as_of_month(month) }}
),

-- every bill issued for a month up to the as-of month, with its state at the as-of date
bills_as_of as (
    select
        bills.customer_id,
        bills.bill_month,
        bills.billed_kwh,
        bills.amount_cny,
        bills.due_date,
        bills.settled_date,
        as_of_months.as_of_month,
        as_of_months.as_of_month_end_date,
        {{ dbt.datediff('bills.bill_month', 'as_of_months.as_of_month', 'month') }} as bill_months_back,
        bills.due_date >= as_of_months.window_12m_start_month
            and bills.due_date <= as_of_months.as_of_month_end_date as is_due_in_12m,
        bills.due_date <= as_of_months.as_of_month_end_date as is_due_by_as_of,
        bills.settled_date is not null
            and bills.settled_date <= as_of_months.as_of_month_end_date as is_settled_by_as_of,
        bills.settled_date is null or bills.settled_date > bills.due_date as is_late_if_due
    from bills
    inner join as_of_months
        on bills.bill_month <= as_of_months.as_of_month
),

bills_with_lateness as (
    select
        bills_as_of.*,
        is_due_by_as_of and is_late_if_due as is_late_by_as_of,
        case
            when not is_due_by_as_of or not is_late_if_due then 0
            when is_settled_by_as_of then {{ days_between('due_date', 'settled_date') }}
            else {{ days_between('due_date', 'as_of_month_end_date') }}
        end as days_late_as_of
    from bills_as_of
),

-- bills past due and not settled at the as-of date: what had been paid on them by then
unpaid_bills as (
    select customer_id, bill_month, as_of_month, amount_cny
    from bills_with_lateness
    where is_due_by_as_of and not is_settled_by_as_of
),

unpaid_amounts as (
    select
        unpaid_bills.customer_id,
        unpaid_bills.as_of_month,
        count(*) as unpaid_bills_at_as_of,
        sum(unpaid_bills.amount_cny - coalesce(paid_by_as_of.paid_cny, 0)) as unpaid_amount_at_as_of_cny
    from unpaid_bills
    left join (
        select
            unpaid_bills.customer_id,
            unpaid_bills.bill_month,
            unpaid_bills.as_of_month,
            sum(payments.amount_cny) as paid_cny
        from unpaid_bills
        inner join payments
            on unpaid_bills.customer_id = payments.customer_id
            and unpaid_bills.bill_month = payments.bill_month
        inner join as_of_months
            on unpaid_bills.as_of_month = as_of_months.as_of_month
        where payments.paid_at < as_of_months.next_month_start_date
        group by unpaid_bills.customer_id, unpaid_bills.bill_month, unpaid_bills.as_of_month
    ) as paid_by_as_of
        on unpaid_bills.customer_id = paid_by_as_of.customer_id
        and unpaid_bills.bill_month = paid_by_as_of.bill_month
        and unpaid_bills.as_of_month = paid_by_as_of.as_of_month
    group by unpaid_bills.customer_id, unpaid_bills.as_of_month
),

bill_windows as (
    select
        customer_id,
        as_of_month,
        count(case when bill_months_back < 12 then 1 end) as bills_12m,
        sum(case when bill_months_back < 12 then amount_cny else 0 end) as revenue_12m_cny,
        sum(case when bill_months_back < 12 then billed_kwh else 0 end) as billed_kwh_12m,
        count(case when bill_months_back < 3 then 1 end) as bills_3m,
        sum(case when bill_months_back < 3 then amount_cny else 0 end) as revenue_3m_cny,
        count(case when bill_months_back < 6 then 1 end) as bills_last_6m,
        sum(case when bill_months_back < 6 then billed_kwh else 0 end) as billed_kwh_last_6m,
        count(case when bill_months_back >= 6 and bill_months_back < 12 then 1 end)
            as bills_prior_6m,
        sum(case when bill_months_back >= 6 and bill_months_back < 12 then billed_kwh else 0 end)
            as billed_kwh_prior_6m,
        count(case when is_due_in_12m then 1 end) as bills_due_12m,
        count(case when is_due_in_12m and is_late_by_as_of then 1 end) as late_bills_due_12m,
        cast(sum(case when is_due_in_12m then days_late_as_of else 0 end) as {{ dbt.type_bigint() }})
            as days_late_sum_12m,
        max(case when is_due_in_12m then days_late_as_of else 0 end) as max_days_late_12m,
        max(case when is_late_by_as_of then due_date end) as last_late_due_date
    from bills_with_lateness
    group by customer_id, as_of_month
),

payment_windows as (
    select
        payments.customer_id,
        lookback_months.as_of_month,
        count(*) as payments_12m,
        count(case when payments.is_partial then 1 end) as partial_payments_12m,
        count(case when payments.is_auto_debit then 1 end) as auto_debit_payments_12m,
        count(case when payments.is_online then 1 end) as online_payments_12m
    from payments
    inner join lookback_months
        on payments.paid_month = lookback_months.lookback_month
    group by payments.customer_id, lookback_months.as_of_month
),

customer_as_of_months as (
    select customer_id, as_of_month from bill_windows
    union
    select customer_id, as_of_month from payment_windows
),

combined as (
    select
        customer_as_of_months.customer_id,
        customer_as_of_months.as_of_month,
        coalesce(bill_windows.bills_12m, 0) as bills_12m,
        coalesce(bill_windows.revenue_12m_cny, 0) as revenue_12m_cny,
        coalesce(bill_windows.billed_kwh_12m, 0) as billed_kwh_12m,
        coalesce(bill_windows.bills_3m, 0) as bills_3m,
        coalesce(bill_windows.revenue_3m_cny, 0) as revenue_3m_cny,
        coalesce(bill_windows.bills_last_6m, 0) as bills_last_6m,
        coalesce(bill_windows.billed_kwh_last_6m, 0) as billed_kwh_last_6m,
        coalesce(bill_windows.bills_prior_6m, 0) as bills_prior_6m,
        coalesce(bill_windows.billed_kwh_prior_6m, 0) as billed_kwh_prior_6m,
        coalesce(bill_windows.bills_due_12m, 0) as bills_due_12m,
        coalesce(bill_windows.late_bills_due_12m, 0) as late_bills_due_12m,
        coalesce(bill_windows.days_late_sum_12m, 0) as days_late_sum_12m,
        coalesce(bill_windows.max_days_late_12m, 0) as max_days_late_12m,
        bill_windows.last_late_due_date,
        coalesce(unpaid_amounts.unpaid_bills_at_as_of, 0) as unpaid_bills_at_as_of,
        coalesce(unpaid_amounts.unpaid_amount_at_as_of_cny, 0) as unpaid_amount_at_as_of_cny,
        coalesce(payment_windows.payments_12m, 0) as payments_12m,
        coalesce(payment_windows.partial_payments_12m, 0) as partial_payments_12m,
        coalesce(payment_windows.auto_debit_payments_12m, 0) as auto_debit_payments_12m,
        coalesce(payment_windows.online_payments_12m, 0) as online_payments_12m
    from customer_as_of_months
    left join bill_windows
        on customer_as_of_months.customer_id = bill_windows.customer_id
        and customer_as_of_months.as_of_month = bill_windows.as_of_month
    left join unpaid_amounts
        on customer_as_of_months.customer_id = unpaid_amounts.customer_id
        and customer_as_of_months.as_of_month = unpaid_amounts.as_of_month
    left join payment_windows
        on customer_as_of_months.customer_id = payment_windows.customer_id
        and customer_as_of_months.as_of_month = payment_windows.as_of_month
)

select * from combined
) as month_{{ loop.index }}
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}
