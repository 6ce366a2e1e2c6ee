{#- Where every raw row went, per raw table: staged, quarantined for a failed check or a
    conflicting duplicate, or dropped as an exact duplicate of a staged row. raw_rows = staged_rows + quarantined_rows + duplicate_rows
    (tests/assert_row_accounting_balances.sql). -#}
with

{% for table_name in contract_tables() -%}
{{ table_name }}_accounting as (
    select
        '{{ table_name }}' as table_name,
        (select count(*) from {{ source('raw', table_name) }}) as raw_rows,
        (select count(*) from {{ ref('stg_raw__' ~ table_name) }}) as staged_rows,
        (select count(*) from {{ ref('q_' ~ table_name) }} where reason <> 'exact_duplicate')
            as quarantined_rows,
        (select count(*) from {{ ref('q_' ~ table_name) }} where reason = 'exact_duplicate')
            as duplicate_rows
),

{% endfor -%}
all_tables as (
    {% for table_name in contract_tables() -%}
    select * from {{ table_name }}_accounting
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}
)

select * from all_tables
