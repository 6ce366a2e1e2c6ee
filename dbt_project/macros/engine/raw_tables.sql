{#- On Spark the raw sources are tables over the Parquet files the loader writes into the lake
    (powerseg/engine.py: <POWERSEG_LAKE_DIR>/raw/<table>/, the rows and lineage columns DuckDB's
    raw schema gets). They are registered again at the start of every dbt invocation (an
    on-run-start hook), so the schema Spark reads is the current delivery's. A table with a
    location is external: dropping it leaves its files alone. On DuckDB the loader fills the raw
    schema itself and this does nothing. -#}
{% macro register_raw_tables() %}
    {%- if target.type == 'spark' -%}
        {%- set raw_lake = raw_lake_location() -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for table_name in contract_tables() -%}
            {%- do run_query('drop table if exists raw.' ~ table_name) -%}
            {%- do run_query('create table raw.' ~ table_name ~ " using parquet location '"
                ~ raw_lake ~ '/' ~ table_name ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}

{#- Where the loader wrote the raw tables for Spark (an absolute path or an object-store URI). -#}
{% macro raw_lake_location() -%}
    {%- set lake = env_var('POWERSEG_LAKE_DIR', '') -%}
    {%- if not lake -%}
        {{ exceptions.raise_compiler_error(
            'POWERSEG_LAKE_DIR is not set: on Spark the raw tables are read from '
            ~ '<POWERSEG_LAKE_DIR>/raw/<table>/, written by the powerseg loader') }}
    {%- endif -%}
    {{ return(lake.rstrip('/') ~ '/raw') }}
{%- endmacro %}
