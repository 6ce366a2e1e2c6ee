{{ config(materialized='table') }}
{#- Daily meter reads rolled up to customer x calendar month: the one pass over the big table
    (tens of millions of rows in, one row per customer-month out) that every consumption
    feature is computed from. -#}
with

meter_reads as (
    select customer_id, read_date, kwh, max_demand_kw, read_quality
    from {{ ref('stg_raw__meter_reads_daily') }}
),

customer_months as (
    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'read_date') }} as date) as reading_month,
        count(*) as read_days,
        {{ distinct_days_in_month('read_date') }} as distinct_read_days,
        count(case when read_quality = 'actual' then 1 end) as actual_read_days,
        count(case when read_quality = 'estimated' then 1 end) as estimated_read_days,
        count(case when read_quality = 'missing' then 1 end) as missing_read_days,
        count(case when read_quality <> 'missing' and kwh = 0 then 1 end) as zero_kwh_read_days,
        count(kwh) as kwh_read_days,
        coalesce(sum(kwh), 0) as metered_kwh,
        count(max_demand_kw) as demand_read_days,
        coalesce(sum(max_demand_kw), 0) as max_demand_kw_sum,
        max(max_demand_kw) as peak_demand_kw
    from meter_reads
    group by customer_id, cast({{ dbt.date_trunc('month', 'read_date') }} as date)
)

select * from customer_months
