{#- Fails with each value of `column_name` that has no match in `field` of `to` (nulls pass):
    dbt's relationships test, but the child's distinct values are taken first, so a daily
    table with tens of millions of rows joins a hundred thousand ids, not every row. -#}
{% test references(model, column_name, to, field) %}

with

child_values as (
    select distinct {{ column_name }} as child_value
    from {{ model }}
    where {{ column_name }} is not null
),

parent_values as (
    select {{ field }} as parent_value from {{ to }}
),

missing as (
    select child_values.child_value
    from child_values
    left join parent_values
        on child_values.child_value = parent_values.parent_value
    where parent_values.parent_value is null
)

select * from missing
{% endtest %}
