{#- Each active customer's recent monthly consumption against its peers' median at the same
    as-of month. Peers share customer_type, district and contracted-capacity band; customers
    without reads in the last 3 months are left out of the median. -#}
with

active_customers as (
    select customer_id, as_of_month, customer_type, district, capacity_band
    from {{ ref('int_active_customers_spined') }}
),

consumption as (
    select customer_id, as_of_month, monthly_kwh_3m
    from {{ ref('int_consumption_windows_aggregated') }}
),

customer_consumption as (
    select active_customers.*, consumption.monthly_kwh_3m
    from active_customers
    left join consumption
        on active_customers.customer_id = consumption.customer_id
        and active_customers.as_of_month = consumption.as_of_month
),

peer_medians as (
    select
        as_of_month,
        customer_type,
        district,
        capacity_band,
        count(monthly_kwh_3m) as peers_with_reads,
        {{ median('monthly_kwh_3m') }} as peer_median_monthly_kwh_3m
    from customer_consumption
    where monthly_kwh_3m is not null
    group by as_of_month, customer_type, district, capacity_band
),

compared as (
    select
        customer_consumption.customer_id,
        customer_consumption.as_of_month,
        customer_consumption.capacity_band,
        customer_consumption.monthly_kwh_3m,
        peer_medians.peers_with_reads,
        peer_medians.peer_median_monthly_kwh_3m,
        case
            when customer_consumption.monthly_kwh_3m is not null
                and peer_medians.peer_median_monthly_kwh_3m > 0
            then (customer_consumption.monthly_kwh_3m - peer_medians.peer_median_monthly_kwh_3m)
                / peer_medians.peer_median_monthly_kwh_3m
        end as peer_deviation
    from customer_consumption
    left join peer_medians
        on customer_consumption.as_of_month = peer_medians.as_of_month
        and customer_consumption.customer_type = peer_medians.customer_type
        and customer_consumption.district = peer_medians.district
        and customer_consumption.capacity_band = peer_medians.capacity_band
)

select * from compared
