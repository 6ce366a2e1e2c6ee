{{ config(materialized='table') }}
{#- Each as-of month paired with the 12 calendar months of its lookback window (months_back 0 =
    the as-of month itself), so windowed features are an equi-join plus a filter on months_back
    rather than a range join per feature. -#}
with

as_of_months as (
    select as_of_month from {{ ref('int_as_of_months') }}
),

offsets as (
    {{ dbt.generate_series(12) }}
),

expanded as (
    select
        as_of_months.as_of_month,
        offsets.generated_number - 1 as months_back,
        {{ add_months('as_of_months.as_of_month', '-(offsets.generated_number - 1)') }} as lookback_month
    from as_of_months
    cross join offsets
)

select * from expanded
