-- Generated from the factor registry (ml/registry.py) by `make contract`; do not edit.
-- The factor scores side by side for every scored as-of month, with the level-1 category.
-- Built after the factor-model assets have written scores.<factor>_scores (tag factor_scores).
{{ config(schema='marts', materialized='table') }}

with

contribution as (
    select * from {{ source('scores', 'contribution_scores') }}
),

outage_sensitivity as (
    select * from {{ source('scores', 'outage_sensitivity_scores') }}
),

arrears as (
    select * from {{ source('scores', 'arrears_scores') }}
),

channel_activity as (
    select * from {{ source('scores', 'channel_activity_scores') }}
),

inspection as (
    select * from {{ source('scores', 'inspection_scores') }}
),

customers as (
    select customer_id, as_of_month, level1_category
    from {{ ref('customer_360') }}
)

select
    contribution.customer_id,
    contribution.as_of_month,
    customers.level1_category,
    contribution.score as contribution_score,
    contribution.level as contribution_level,
    outage_sensitivity.score as outage_sensitivity_score,
    outage_sensitivity.tier as outage_sensitivity_tier,
    concat_ws(', ', outage_sensitivity.reason_1, outage_sensitivity.reason_2,
        outage_sensitivity.reason_3) as outage_sensitivity_reasons,
    arrears.score as arrears_score,
    arrears.points as arrears_points,
    arrears.grade as arrears_grade,
    arrears.tier as arrears_tier,
    concat_ws(', ', arrears.reason_1, arrears.reason_2, arrears.reason_3) as arrears_reasons,
    channel_activity.score as channel_activity_score,
    channel_activity.preferred_channel,
    channel_activity.digital_tier,
    inspection.score as inspection_score,
    inspection.tier as inspection_tier,
    inspection.reason as inspection_reason
from contribution
inner join outage_sensitivity
    on contribution.customer_id = outage_sensitivity.customer_id
    and contribution.as_of_month = outage_sensitivity.as_of_month
inner join arrears
    on contribution.customer_id = arrears.customer_id
    and contribution.as_of_month = arrears.as_of_month
inner join channel_activity
    on contribution.customer_id = channel_activity.customer_id
    and contribution.as_of_month = channel_activity.as_of_month
inner join inspection
    on contribution.customer_id = inspection.customer_id
    and contribution.as_of_month = inspection.as_of_month
left join customers
    on contribution.customer_id = customers.customer_id
    and contribution.as_of_month = customers.as_of_month
