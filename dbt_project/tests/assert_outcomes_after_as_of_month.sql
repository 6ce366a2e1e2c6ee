-- Labels look only forward: every event behind a label falls after the as-of month and inside
-- the outcome window, and each label is set exactly when such an event exists.
with

outcomes as (
    select * from {{ ref('fct_outcomes') }}
),

as_of_months as (
    select as_of_month, as_of_month_end_date from {{ ref('int_as_of_months') }}
),

checked as (
    select
        outcomes.customer_id,
        outcomes.as_of_month,
        case
            when outcomes.outcome_window_start_date <= as_of_months.as_of_month_end_date
                then 'window starts inside the as-of month'
            when cast(outcomes.first_outage_next_start_at as date) <= as_of_months.as_of_month_end_date
                or cast(outcomes.first_outage_next_start_at as date) > outcomes.outcome_window_end_date
                then 'outage outside the outcome window'
            when outcomes.first_bill_due_next_date <= as_of_months.as_of_month_end_date
                or outcomes.first_bill_due_next_date > outcomes.outcome_window_end_date
                then 'bill due outside the outcome window'
            when outcomes.first_inspection_next_date <= as_of_months.as_of_month_end_date
                or outcomes.first_inspection_next_date > outcomes.outcome_window_end_date
                then 'inspection outside the outcome window'
            when outcomes.outage_exposed_next <> (outcomes.first_outage_next_start_at is not null)
                or (outcomes.outage_contact_72h_next is null) = outcomes.outage_exposed_next
                then 'outage labels disagree with their events'
            when (outcomes.bills_due_next > 0) <> (outcomes.first_bill_due_next_date is not null)
                or (outcomes.bills_due_next = 0 and outcomes.arrears_30d_next is not null)
                or (outcomes.outcome_window_closed and (outcomes.arrears_30d_next is null) = (outcomes.bills_due_next > 0))
                then 'arrears labels disagree with their events'
            when outcomes.inspected_next <> (outcomes.first_inspection_next_date is not null)
                or (outcomes.inspection_positive_next is null) = outcomes.inspected_next
                then 'inspection labels disagree with their events'
        end as problem
    from outcomes
    inner join as_of_months
        on outcomes.as_of_month = as_of_months.as_of_month
)

select * from checked where problem is not null
