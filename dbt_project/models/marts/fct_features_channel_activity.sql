{#- Channel-activity features: recency, frequency and breadth per interaction channel over the
    12 months ending at the as-of month, plus overall use and the online share of payments. -#}
{%- set channels = (contract_tables()['channel_interactions']['columns']
    | selectattr('name', 'equalto', 'channel') | first)['allowed'] -%}
with

active_customers as (
    select customer_id, as_of_month from {{ ref('int_active_customers_spined') }}
),

channel_windows as (
    select * from {{ ref('int_channel_windows_aggregated') }}
),

billing as (
    select customer_id, as_of_month, payments_12m, online_payments_12m
    from {{ ref('int_billing_windows_aggregated') }}
),

unused_recency as (
    select {{ threshold('recency_days_when_unused') }} as recency_days_when_unused
),

features as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        {% for channel in channels -%}
        cast(coalesce(channel_windows.{{ channel }}_recency_days, unused_recency.recency_days_when_unused)
            as integer) as {{ channel }}_recency_days,
        coalesce(channel_windows.{{ channel }}_frequency_12m, 0) as {{ channel }}_frequency_12m,
        coalesce(channel_windows.{{ channel }}_breadth_12m, 0) as {{ channel }}_breadth_12m,
        {% endfor -%}
        coalesce(channel_windows.channels_used_12m, 0) as channels_used_12m,
        coalesce(channel_windows.interactions_12m, 0) as interactions_12m,
        case when channel_windows.interactions_12m > 0
            then cast(channel_windows.digital_interactions_12m as {{ type_double() }})
                / channel_windows.interactions_12m
            else 0 end as digital_share_12m,
        case when billing.payments_12m > 0
            then cast(billing.online_payments_12m as {{ type_double() }}) / billing.payments_12m
            else 0 end as online_payment_share_12m
    from active_customers
    cross join unused_recency
    left join channel_windows
        on active_customers.customer_id = channel_windows.customer_id
        and active_customers.as_of_month = channel_windows.as_of_month
    left join billing
        on active_customers.customer_id = billing.customer_id
        and active_customers.as_of_month = billing.as_of_month
)

select * from features
