{#- The SERVQUAL reliability gap (expectation minus perception) from each customer's latest
    survey on or before the end of each as-of month. -#}
with

reliability_answers as (
    select customer_id, surveyed_on, expectation, perception
    from {{ ref('stg_raw__satisfaction_surveys') }}
    where dimension = 'reliability'
),

as_of_months as (
    select as_of_month, as_of_month_end_date from {{ ref('int_as_of_months') }}
),

ranked as (
    select
        reliability_answers.customer_id,
        as_of_months.as_of_month,
        reliability_answers.surveyed_on,
        reliability_answers.expectation - reliability_answers.perception as reliability_gap,
        row_number() over (
            partition by reliability_answers.customer_id, as_of_months.as_of_month
            order by reliability_answers.surveyed_on desc
        ) as recency_rank
    from reliability_answers
    inner join as_of_months
        on reliability_answers.surveyed_on <= as_of_months.as_of_month_end_date
),

latest as (
    select customer_id, as_of_month, surveyed_on as last_surveyed_on, reliability_gap
    from ranked
    where recency_rank = 1
)

select * from latest
