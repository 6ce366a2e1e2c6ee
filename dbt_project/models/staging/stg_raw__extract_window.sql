{{ config(materialized='table') }}
{#- The window the extract covers, derived from the data (or the `extract_end_date` var):
    the extract ends on the last day whose meter reads reach a share of the busiest day's
    (so a stray future-dated read cannot move it). A billing-only extract (no meter reads)
    falls back to the last billed month and the last payment. -#}
{%- set extract_end_override = var('extract_end_date') -%}

with

meter_reads as (
    select {{ dbt.safe_cast('read_date', 'date') }} as read_date
    from {{ source('raw', 'meter_reads_daily') }}
),

bills as (
    select {{ dbt.safe_cast('bill_month', 'date') }} as bill_month
    from {{ source('raw', 'bills') }}
),

payments as (
    select {{ dbt.safe_cast('paid_at', 'date') }} as paid_date
    from {{ source('raw', 'payments') }}
),

reads_per_day as (
    select read_date, count(*) as read_rows
    from meter_reads
    where read_date >= {{ date_literal(default_earliest_date()) }}
    group by read_date
),

coverage_threshold as (
    select max(read_rows) * {{ threshold('extract_day_coverage_share') }} as min_read_rows_per_day
    from reads_per_day
),

covered_days as (
    select reads_per_day.read_date
    from reads_per_day
    cross join coverage_threshold
    where reads_per_day.read_rows >= coverage_threshold.min_read_rows_per_day
),

read_window as (
    select min(read_date) as first_read_date, max(read_date) as last_read_date
    from covered_days
),

billing_window as (
    select
        min(bill_month) as first_bill_month,
        {{ dbt.last_day('max(bill_month)', 'month') }} as last_billed_day
    from bills
    where bill_month >= {{ date_literal(default_earliest_date()) }}
),

payment_window as (
    select max(paid_date) as last_paid_date
    from payments
    where paid_date >= {{ date_literal(default_earliest_date()) }}
),

extract_window as (
    select
        coalesce(read_window.first_read_date, billing_window.first_bill_month) as extract_start_date,
        {% if extract_end_override -%}
        {{ date_literal(extract_end_override) }}
        {%- else -%}
        coalesce(
            read_window.last_read_date,
            case
                when payment_window.last_paid_date > billing_window.last_billed_day
                    then payment_window.last_paid_date
                else coalesce(billing_window.last_billed_day, payment_window.last_paid_date)
            end
        )
        {%- endif %} as extract_end_date,
        case
            when {{ 'true' if extract_end_override else 'false' }} then 'var:extract_end_date'
            when read_window.last_read_date is not null then 'meter_reads_daily'
            else 'bills_and_payments'
        end as extract_end_source
    from read_window
    cross join billing_window
    cross join payment_window
),

with_last_complete_month as (
    select
        extract_start_date,
        extract_end_date,
        extract_end_source,
        -- the month that ends on or before the extract end
        {{ add_months(dbt.date_trunc('month', dbt.dateadd('day', 1, 'extract_end_date')), -1) }}
            as last_complete_month
    from extract_window
)

select * from with_last_complete_month
