{#- One row per customer active at each as-of month (opened by the end of the month, status not
    closed): the row set every feature mart and fct_outcomes has, plus the customer facts the
    feature models reuse (tenure, peer group). -#}
with

customers as (
    select * from {{ ref('stg_raw__customers') }}
),

as_of_months as (
    select * from {{ ref('int_as_of_months') }}
),

spined as (
    select
        customers.customer_id,
        as_of_months.as_of_month,
        as_of_months.as_of_month_end_date,
        as_of_months.next_month_start_date,
        customers.customer_type,
        customers.district,
        customers.contracted_capacity_kva,
        customers.open_date,
        {{ dbt.datediff('customers.open_date', 'as_of_months.as_of_month_end_date', 'month') }}
            as tenure_months
    from customers
    inner join as_of_months
        on customers.open_date <= as_of_months.as_of_month_end_date
    where customers.status <> 'closed'
),

banded as (
    select
        spined.*,
        case
            when contracted_capacity_kva < {{ threshold('peer_capacity_small_max_kva') }} then 'small'
            when contracted_capacity_kva < {{ threshold('peer_capacity_medium_max_kva') }} then 'medium'
            when contracted_capacity_kva < {{ threshold('peer_capacity_large_max_kva') }} then 'large'
            else 'very_large'
        end as capacity_band,
        case
            when tenure_months < {{ threshold('tenure_new_max_months') }} then 'new'
            when tenure_months < {{ threshold('tenure_established_max_months') }} then 'established'
            when tenure_months < {{ threshold('tenure_long_max_months') }} then 'long'
            else 'veteran'
        end as tenure_band
    from spined
)

select * from banded
