{#- The as-of months this build makes ('YYYY-MM-DD', oldest first), read from int_as_of_months
    when the model runs; empty while dbt parses. A model calling it declares
    `-- depends_on: {{ ref('int_as_of_months') }}`. -#}
{% macro built_as_of_months() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set months = run_query(
        "select cast(as_of_month as " ~ dbt.type_string() ~ ") from "
        ~ ref('int_as_of_months') ~ " order by 1") -%}
    {{ return(months.columns[0].values() | list) }}
{%- endmacro %}

{#- The filter that keeps one as-of month (none: every month). -#}
{% macro in_as_of_month(month, column='as_of_month') -%}
    {%- if month %}where {{ column }} = date '{{ month }}'{% endif -%}
{%- endmacro %}
