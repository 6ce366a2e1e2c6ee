{#- Labels for the supervised factor models, strictly from the `outcome_months` months after
    each as-of month (never a feature). The first_* columns name the event behind each label so
    tests/assert_outcomes_after_as_of_month.sql can prove no label looks back. -#}
with

active_customers as (
    select customer_id, as_of_month from {{ ref('int_active_customers_spined') }}
),

as_of_months as (
    select * from {{ ref('int_as_of_months') }}
),

exposures as (
    select customer_id, start_at, contacted_within_window from {{ ref('int_outage_exposures_joined') }}
),

bills as (
    select customer_id, due_date, settled_date from {{ ref('int_bills_settled') }}
),

inspections as (
    select customer_id, inspected_on, result from {{ ref('stg_raw__inspections') }}
),

arrears_rule as (
    select {{ threshold('arrears_days_after_due') }} as arrears_days_after_due
),

outage_outcomes as (
    select
        exposures.customer_id,
        as_of_months.as_of_month,
        count(*) as outages_next,
        max(case when exposures.contacted_within_window then 1 else 0 end) as any_contact,
        min(exposures.start_at) as first_outage_next_start_at
    from exposures
    inner join as_of_months
        on exposures.start_at >= as_of_months.outcome_window_start_date
        and exposures.start_at < {{ dbt.dateadd('day', 1, 'as_of_months.outcome_window_end_date') }}
    group by exposures.customer_id, as_of_months.as_of_month
),

bill_outcomes as (
    select
        bills.customer_id,
        as_of_months.as_of_month,
        count(*) as bills_due_next,
        -- late = settled after due + N days, or still unsettled once due + N days is inside the
        -- extract; an unsettled bill whose N days have not yet run out is unknown, not late
        max(case
            when bills.settled_date > {{ dbt.dateadd('day', 'arrears_rule.arrears_days_after_due', 'bills.due_date') }}
                then 1
            when bills.settled_date is null
                and as_of_months.extract_end_date >= {{ dbt.dateadd('day', 'arrears_rule.arrears_days_after_due', 'bills.due_date') }}
                then 1
            else 0
        end) as any_arrears,
        sum(case
            when bills.settled_date is null
                and as_of_months.extract_end_date < {{ dbt.dateadd('day', 'arrears_rule.arrears_days_after_due', 'bills.due_date') }}
                then 1 else 0
        end) as bills_unresolved_next,
        min(bills.due_date) as first_bill_due_next_date
    from bills
    inner join as_of_months
        on bills.due_date >= as_of_months.outcome_window_start_date
        and bills.due_date <= as_of_months.outcome_window_end_date
    cross join arrears_rule
    group by bills.customer_id, as_of_months.as_of_month
),

inspection_outcomes as (
    select
        inspections.customer_id,
        as_of_months.as_of_month,
        count(*) as inspections_next,
        max(case when inspections.result in ('theft', 'violation') then 1 else 0 end) as any_positive,
        min(inspections.inspected_on) as first_inspection_next_date
    from inspections
    inner join as_of_months
        on inspections.inspected_on >= as_of_months.outcome_window_start_date
        and inspections.inspected_on <= as_of_months.outcome_window_end_date
    group by inspections.customer_id, as_of_months.as_of_month
),

outcomes as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        as_of_months.outcome_window_start_date,
        as_of_months.outcome_window_end_date,
        as_of_months.outcome_known_date,
        as_of_months.outcome_window_closed,
        outage_outcomes.customer_id is not null as outage_exposed_next,
        case when outage_outcomes.customer_id is not null
            then outage_outcomes.any_contact = 1 end as outage_contact_72h_next,
        coalesce(bill_outcomes.bills_due_next, 0) as bills_due_next,
        case
            when bill_outcomes.any_arrears = 1 then true
            when bill_outcomes.bills_unresolved_next = 0 then false
        end as arrears_30d_next,
        inspection_outcomes.customer_id is not null as inspected_next,
        case when inspection_outcomes.customer_id is not null
            then inspection_outcomes.any_positive = 1 end as inspection_positive_next,
        outage_outcomes.first_outage_next_start_at,
        bill_outcomes.first_bill_due_next_date,
        inspection_outcomes.first_inspection_next_date
    from active_customers
    inner join as_of_months
        on active_customers.as_of_month = as_of_months.as_of_month
    left join outage_outcomes
        on active_customers.customer_id = outage_outcomes.customer_id
        and active_customers.as_of_month = outage_outcomes.as_of_month
    left join bill_outcomes
        on active_customers.customer_id = bill_outcomes.customer_id
        and active_customers.as_of_month = bill_outcomes.as_of_month
    left join inspection_outcomes
        on active_customers.customer_id = inspection_outcomes.customer_id
        and active_customers.as_of_month = inspection_outcomes.as_of_month
)

select * from outcomes
