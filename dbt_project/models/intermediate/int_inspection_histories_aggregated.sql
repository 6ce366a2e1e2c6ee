{#- Each customer's inspection history up to the end of each as-of month (all of it, not a
    window: a past finding matters however old). -#}
with

inspections as (
    select customer_id, inspected_on, result from {{ ref('stg_raw__inspections') }}
),

as_of_months as (
    select as_of_month, as_of_month_end_date from {{ ref('int_as_of_months') }}
),

histories as (
    select
        inspections.customer_id,
        as_of_months.as_of_month,
        count(*) as past_inspections,
        count(case when inspections.result in ('theft', 'violation') then 1 end)
            as past_positive_inspections,
        max(inspections.inspected_on) as last_inspected_on
    from inspections
    inner join as_of_months
        on inspections.inspected_on <= as_of_months.as_of_month_end_date
    group by inspections.customer_id, as_of_months.as_of_month
),

with_recency as (
    select
        histories.*,
        {{ dbt.datediff('histories.last_inspected_on', 'as_of_months.as_of_month_end_date', 'month') }}
            as months_since_last_inspection
    from histories
    inner join as_of_months
        on histories.as_of_month = as_of_months.as_of_month
)

select * from with_recency
