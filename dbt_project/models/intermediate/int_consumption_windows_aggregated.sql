{{ config(materialized='table') }}
{#- Metered consumption per customer and as-of month over the 3-, 9- and 12-month lookback
    windows, from customer-months. Averages divide by the months the customer actually has
    reads in, so a short history (start of the extract, new account) is not read as a drop. -#}
with

customer_months as (
    select * from {{ ref('int_customer_months_aggregated') }}
),

lookback_months as (
    select * from {{ ref('int_lookback_months_expanded') }}
),

windowed as (
    select
        customer_months.customer_id,
        lookback_months.as_of_month,
        sum(customer_months.metered_kwh) as metered_kwh_12m,
        sum(case when lookback_months.months_back < 3 then customer_months.metered_kwh else 0 end)
            as metered_kwh_3m,
        sum(case when lookback_months.months_back >= 3 then customer_months.metered_kwh else 0 end)
            as metered_kwh_prior_9m,
        count(case when lookback_months.months_back < 3 and customer_months.kwh_read_days > 0
            then 1 end) as months_with_reads_3m,
        count(case when lookback_months.months_back >= 3 and customer_months.kwh_read_days > 0
            then 1 end) as months_with_reads_prior_9m,
        -- day counts summed stay BIGINT (a plain sum of integers is a slow 128-bit HUGEINT)
        cast(sum(customer_months.kwh_read_days) as {{ dbt.type_bigint() }}) as kwh_read_days_12m,
        cast(sum(customer_months.demand_read_days) as {{ dbt.type_bigint() }}) as demand_read_days_12m,
        sum(customer_months.max_demand_kw_sum) as max_demand_kw_sum_12m,
        cast(sum(case when lookback_months.months_back < 3 then customer_months.read_days else 0 end)
            as {{ dbt.type_bigint() }}) as read_days_3m,
        cast(sum(case when lookback_months.months_back < 3 then customer_months.missing_read_days else 0 end)
            as {{ dbt.type_bigint() }}) as missing_read_days_3m,
        cast(sum(case when lookback_months.months_back < 3 then customer_months.zero_kwh_read_days else 0 end)
            as {{ dbt.type_bigint() }}) as zero_read_days_3m
    from customer_months
    inner join lookback_months
        on customer_months.reading_month = lookback_months.lookback_month
    group by customer_months.customer_id, lookback_months.as_of_month
),

with_ratios as (
    select
        windowed.*,
        case when months_with_reads_3m > 0
            then metered_kwh_3m / months_with_reads_3m end as monthly_kwh_3m,
        case when months_with_reads_prior_9m > 0
            then metered_kwh_prior_9m / months_with_reads_prior_9m end as monthly_kwh_prior_9m,
        case when demand_read_days_12m > 0
            then max_demand_kw_sum_12m / demand_read_days_12m end as mean_max_demand_kw_12m,
        case when kwh_read_days_12m > 0
            then metered_kwh_12m / kwh_read_days_12m end as mean_daily_kwh_12m
    from windowed
)

select * from with_ratios
