-- The contract's PII columns exist in no model of this project: staging drops them (keeping
-- identity_hash) and nothing downstream, quarantine included, ever sees them. (Seeds are
-- left out: a label registry may well have a `name` column.) The columns are read through the
-- adapter (Spark has no information_schema); every PII column found is a failing row.
-- Runs after the last models:
-- depends_on: {{ ref('customer_360') }}
-- depends_on: {{ ref('fct_outcomes') }}
-- depends_on: {{ ref('row_accounting') }}
{%- set pii_columns = [] -%}
{%- for table in contract_tables().values() -%}
    {%- for column in table['columns'] if column['pii'] -%}
        {%- do pii_columns.append(column['name']) -%}
    {%- endfor -%}
{%- endfor -%}
{%- set found = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name -%}
        {%- set relation = adapter.get_relation(
            database=node.database, schema=node.schema, identifier=node.alias or node.name) -%}
        {%- if relation is not none -%}
            {%- for column in adapter.get_columns_in_relation(relation)
                if column.name | lower in pii_columns -%}
                {%- do found.append((node.schema, node.alias or node.name, column.name)) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

{% for table_schema, table_name, column_name in found -%}
select
    '{{ table_schema }}' as table_schema,
    '{{ table_name }}' as table_name,
    '{{ column_name }}' as column_name
union all
{% endfor -%}
select
    '' as table_schema,
    '' as table_name,
    '' as column_name
where 1 = 0
