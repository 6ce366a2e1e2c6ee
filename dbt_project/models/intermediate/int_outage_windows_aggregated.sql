{#- Outages each customer experienced in the 12 months ending at each as-of month, and how often
    they reacted with an outage complaint or fault report within the contact window. Only what
    was known at the end of the as-of month counts: minutes are cut at the month end and a
    contact filed after it is ignored. -#}
with

exposures as (
    select * from {{ ref('int_outage_exposures_joined') }}
),

lookback_months as (
    select * from {{ ref('int_lookback_months_expanded') }}
),

as_of_months as (
    select as_of_month, next_month_start_date from {{ ref('int_as_of_months') }}
),

exposures_in_window as (
    select
        exposures.customer_id,
        lookback_months.as_of_month,
        exposures.planned,
        case
            when exposures.end_at > as_of_months.next_month_start_date
                then {{ dbt.datediff('exposures.start_at', 'as_of_months.next_month_start_date', 'minute') }}
            else exposures.outage_minutes
        end as outage_minutes_known,
        exposures.first_contact_at is not null
            and exposures.first_contact_at < as_of_months.next_month_start_date as contacted_by_as_of
    from exposures
    inner join lookback_months
        on exposures.start_month = lookback_months.lookback_month
    inner join as_of_months
        on lookback_months.as_of_month = as_of_months.as_of_month
),

windowed as (
    select
        customer_id,
        as_of_month,
        count(*) as outages_experienced_12m,
        count(case when not planned then 1 end) as unplanned_outages_12m,
        cast(sum(outage_minutes_known) as {{ dbt.type_bigint() }}) as outage_minutes_12m,
        count(case when contacted_by_as_of then 1 end) as outage_contacts_72h_12m
    from exposures_in_window
    group by customer_id, as_of_month
)

select * from windowed
