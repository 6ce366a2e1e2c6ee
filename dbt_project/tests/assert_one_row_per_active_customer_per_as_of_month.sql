-- Every mart has exactly the active customers of every as-of month this run built (the spine):
-- no customer missing, none extra, none twice. Months kept from earlier runs were checked then.
{#- The feature marts come from the factor registry (macros/factors/factor_registry.sql). -#}
{%- set marts = ['customer_360'] + factor_feature_marts() + ['fct_outcomes'] %}

with

expected as (
    select customer_id, as_of_month from {{ ref('int_active_customers_spined') }}
),

{% for mart in marts -%}
{{ mart }}_keys as (
    select customer_id, as_of_month, count(*) as rows_per_key
    from {{ ref(mart) }}
    where as_of_month in (select as_of_month from {{ ref('int_as_of_months') }})
    group by customer_id, as_of_month
),

{{ mart }}_mismatches as (
    select
        '{{ mart }}' as mart,
        coalesce(expected.customer_id, {{ mart }}_keys.customer_id) as customer_id,
        coalesce(expected.as_of_month, {{ mart }}_keys.as_of_month) as as_of_month,
        case
            when {{ mart }}_keys.customer_id is null then 'missing'
            when expected.customer_id is null then 'not an active customer'
            else 'duplicated'
        end as problem
    from expected
    full outer join {{ mart }}_keys
        on expected.customer_id = {{ mart }}_keys.customer_id
        and expected.as_of_month = {{ mart }}_keys.as_of_month
    where {{ mart }}_keys.customer_id is null
        or expected.customer_id is null
        or {{ mart }}_keys.rows_per_key > 1
),

{% endfor -%}
all_mismatches as (
    {% for mart in marts -%}
    select * from {{ mart }}_mismatches
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}
)

select * from all_mismatches
