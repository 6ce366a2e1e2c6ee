{#- Each payment with the bill it settles and how it was made: partial (smaller than the bill),
    automatic (bank debit) or online (app, WeChat, Alipay). Payments whose bill is not in the
    extract keep is_partial = false. -#}
with

payments as (
    select * from {{ ref('stg_raw__payments') }}
),

bills as (
    select customer_id, bill_month, amount_cny as bill_amount_cny
    from {{ ref('stg_raw__bills') }}
),

tolerance as (
    select {{ threshold('payment_settled_tolerance_cny') }} as tolerance_cny
),

matched as (
    select
        payments.payment_id,
        payments.customer_id,
        payments.bill_month,
        payments.paid_at,
        cast({{ dbt.date_trunc('month', 'payments.paid_at') }} as date) as paid_month,
        payments.amount_cny,
        payments.channel,
        bills.bill_amount_cny,
        coalesce(payments.amount_cny < bills.bill_amount_cny - tolerance.tolerance_cny, false)
            as is_partial,
        payments.channel = 'bank_debit' as is_auto_debit,
        payments.channel in ('app', 'wechat', 'alipay') as is_online
    from payments
    cross join tolerance
    left join bills
        on payments.customer_id = bills.customer_id
        and payments.bill_month = bills.bill_month
)

select * from matched
