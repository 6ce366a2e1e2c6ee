{#- A named number from seeds/thresholds.csv, as a scalar subquery, so SQL never hard-codes it. -#}
{% macro threshold(name) -%}
    (select value from {{ ref('thresholds') }} where threshold_name = '{{ name }}')
{%- endmacro %}
