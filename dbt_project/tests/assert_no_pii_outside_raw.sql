-- The contract's PII columns exist in no model of this project: staging drops them (keeping
-- identity_hash) and nothing downstream, quarantine included, ever sees them. (Seeds are
-- left out: a label registry may well have a `name` column.)
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
{%- set model_relations = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name -%}
        {%- do model_relations.append(node.schema ~ '.' ~ (node.alias or node.name)) -%}
    {%- endfor -%}
{%- endif %}

select table_schema, table_name, column_name
from information_schema.columns
where lower(column_name) in ('{{ pii_columns | unique | join("', '") }}')
    and lower(table_catalog) = lower('{{ target.database }}')
    and lower(table_schema || '.' || table_name) in (
        '{{ model_relations | map('lower') | join("', '") }}'
    )
