{#- Service tickets per customer over the 12 months ending at each as-of month, by type. -#}
with

tickets as (
    select
        customer_id,
        ticket_type,
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as created_month
    from {{ ref('stg_raw__work_orders') }}
),

lookback_months as (
    select * from {{ ref('int_lookback_months_expanded') }}
),

windowed as (
    select
        tickets.customer_id,
        lookback_months.as_of_month,
        count(*) as tickets_12m,
        count(case when tickets.ticket_type = 'complaint' then 1 end) as complaints_12m,
        count(case when tickets.ticket_type = 'fault_report' then 1 end) as fault_reports_12m
    from tickets
    inner join lookback_months
        on tickets.created_month = lookback_months.lookback_month
    group by tickets.customer_id, lookback_months.as_of_month
)

select * from windowed
