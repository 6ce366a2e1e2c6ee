{#- One row per active customer and as-of month: the non-PII customer attributes, where the
    customer hangs in the grid, the level-1 business category (seeds/category_rules.csv, first
    matching rule by precedence) and the headline figure of every factor mart.

    Built one as-of month at a time, a union of one select per month: joining every factor
    mart for all the build's months at once holds their hash tables together, more memory
    than DuckDB may take at 10^6 customers (out of memory at 4 GB); a month at a time needs a
    sixth of it. -#}
-- depends_on: {{ ref('int_as_of_months') }}
{%- set months = built_as_of_months() or [none] %}
{% for month in months -%}
select * from (
with

active_customers as (
    select * from {{ ref('int_active_customers_spined') }} {{ in_as_of_month(month) }}
),

customers as (
    select * from {{ ref('stg_raw__customers') }}
),

topology as (
    select customer_id, transformer_id, feeder_id from {{ ref('stg_raw__supply_topology') }}
),

category_rules as (
    select * from {{ ref('category_rules') }}
),

contribution as (
    select * from {{ ref('fct_features_contribution') }} {{ in_as_of_month(month) }}
),

outage_sensitivity as (
    select * from {{ ref('fct_features_outage_sensitivity') }} {{ in_as_of_month(month) }}
),

arrears as (
    select * from {{ ref('fct_features_arrears') }} {{ in_as_of_month(month) }}
),

channel_activity as (
    select * from {{ ref('fct_features_channel_activity') }} {{ in_as_of_month(month) }}
),

inspection as (
    select * from {{ ref('fct_features_inspection') }} {{ in_as_of_month(month) }}
),

-- share of active customers (same as-of month) billed at least as much: 0.01 = top 1 %
consumption_ranks as (
    select
        customer_id,
        as_of_month,
        cume_dist() over (partition by as_of_month order by kwh_12m desc) as kwh_top_share
    from contribution
),

rule_matches as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        category_rules.precedence,
        category_rules.category,
        category_rules.rule_version
    from active_customers
    inner join customers
        on active_customers.customer_id = customers.customer_id
    inner join consumption_ranks
        on active_customers.customer_id = consumption_ranks.customer_id
        and active_customers.as_of_month = consumption_ranks.as_of_month
    inner join category_rules
        on (category_rules.importance_grades is null
            or '|' || category_rules.importance_grades || '|' like '%|' || customers.importance_grade || '|%')
        and (category_rules.key_enterprise_flag is null
            or category_rules.key_enterprise_flag = customers.key_enterprise_flag)
        and (category_rules.top_kwh_share is null
            or consumption_ranks.kwh_top_share <= category_rules.top_kwh_share)
        and (category_rules.tariff is null or category_rules.tariff = customers.tariff)
        and (category_rules.customer_type is null
            or category_rules.customer_type = customers.customer_type)
        and (category_rules.min_capacity_kva is null
            or customers.contracted_capacity_kva >= category_rules.min_capacity_kva)
        and (category_rules.is_community_account is null
            or category_rules.is_community_account = customers.is_community_account)
),

first_matches as (
    select customer_id, as_of_month, category, rule_version
    from (
        select
            rule_matches.*,
            row_number() over (
                partition by customer_id, as_of_month order by precedence
            ) as match_rank
        from rule_matches
    ) as ranked
    where match_rank = 1
),

customer_360 as (
    select
        active_customers.customer_id,
        active_customers.as_of_month,
        customers.district,
        customers.customer_type,
        customers.industry_code,
        customers.voltage_level,
        customers.contracted_capacity_kva,
        customers.tariff,
        customers.importance_grade,
        customers.key_enterprise_flag,
        customers.is_community_account,
        customers.households,
        case when customers.holder_birth_year is not null
            then extract(year from active_customers.as_of_month) - customers.holder_birth_year
        end as holder_age_years,
        customers.open_date,
        active_customers.tenure_months,
        active_customers.tenure_band,
        active_customers.capacity_band,
        customers.status,
        topology.transformer_id,
        topology.feeder_id,
        first_matches.category as level1_category,
        first_matches.rule_version as level1_rule_version,
        contribution.revenue_12m_cny,
        contribution.kwh_12m,
        contribution.unit_price_cny_per_kwh,
        contribution.kwh_growth_ratio,
        contribution.on_time_payment_rate_12m,
        outage_sensitivity.outages_experienced_12m,
        outage_sensitivity.outage_contact_rate_12m,
        outage_sensitivity.complaints_12m,
        arrears.late_payment_rate_12m,
        arrears.unpaid_bills_at_as_of,
        arrears.unpaid_amount_at_as_of_cny,
        channel_activity.interactions_12m,
        channel_activity.channels_used_12m,
        channel_activity.digital_share_12m,
        channel_activity.online_payment_share_12m,
        inspection.consumption_drop_ratio,
        inspection.peer_deviation,
        inspection.meter_events_3m,
        inspection.past_positive_inspections
    from active_customers
    inner join customers
        on active_customers.customer_id = customers.customer_id
    left join topology
        on active_customers.customer_id = topology.customer_id
    left join first_matches
        on active_customers.customer_id = first_matches.customer_id
        and active_customers.as_of_month = first_matches.as_of_month
    left join contribution
        on active_customers.customer_id = contribution.customer_id
        and active_customers.as_of_month = contribution.as_of_month
    left join outage_sensitivity
        on active_customers.customer_id = outage_sensitivity.customer_id
        and active_customers.as_of_month = outage_sensitivity.as_of_month
    left join arrears
        on active_customers.customer_id = arrears.customer_id
        and active_customers.as_of_month = arrears.as_of_month
    left join channel_activity
        on active_customers.customer_id = channel_activity.customer_id
        and active_customers.as_of_month = channel_activity.as_of_month
    left join inspection
        on active_customers.customer_id = inspection.customer_id
        and active_customers.as_of_month = inspection.as_of_month
)

select * from customer_360
) as month_{{ loop.index }}
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}
