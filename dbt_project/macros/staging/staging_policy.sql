{#- dbt-side staging policy on top of the generated contract (macros/contract/contract_tables.sql,
    which also carries the staged column names): cross-column checks, foreign keys other than
    customer_id, how duplicates are found fast, and the earliest plausible dates (each time
    column's `earliest` in the contract, the raw gate's date too).

    Typed values are referred to as <column>__typed in `row_checks`. -#}
{% macro staging_policy() %}
{%- set policy = {
    'customers': {},
    'meter_reads_daily': {
        'dedup_day_column': 'read_date',
        'row_checks': [
            {'when': 'kwh__typed > staged_capacity_kva * ' ~ threshold('plausible_daily_kwh_per_kva'),
             'reason': 'implausible:kwh>contracted_capacity*24h'},
        ],
    },
    'meter_events': {},
    'bills': {
        'row_checks': [
            {'when': 'amount__typed > kwh__typed * ' ~ threshold('plausible_max_price_cny_per_kwh')
                ~ ' + staged_capacity_kva * ' ~ threshold('plausible_max_capacity_charge_cny_per_kva'),
             'reason': 'implausible:amount>kwh*max_price+capacity_charge'},
        ],
    },
    'payments': {},
    'supply_topology': {},
    'outages': {
        'row_checks': [
            {'when': 'feeder_id__typed is null and transformer_id__typed is null',
             'reason': 'null_value:feeder_id_or_transformer_id'},
            {'when': 'end_at__typed < start_at__typed',
             'reason': 'out_of_range:end_at<start_at'},
        ],
        'orphan_checks': [
            {'column': 'feeder_id', 'model': 'stg_raw__supply_topology', 'model_column': 'feeder_id'},
            {'column': 'transformer_id', 'model': 'stg_raw__supply_topology',
             'model_column': 'transformer_id'},
        ],
    },
    'work_orders': {
        'row_checks': [
            {'when': 'closed_at__typed < created_at__typed',
             'reason': 'out_of_range:closed_at<created_at'},
        ],
    },
    'channel_interactions': {},
    'inspections': {},
    'satisfaction_surveys': {},
} -%}
    {%- for table_name, table in contract_tables().items() -%}
        {%- set earliest = {} -%}
        {%- for column in table['columns'] if column['earliest'] -%}
            {%- do earliest.update({column['name']: column['earliest']}) -%}
        {%- endfor -%}
        {%- do policy[table_name].update({'earliest_dates': earliest}) -%}
    {%- endfor -%}
    {{ return(policy) }}
{% endmacro %}

{#- The date before which an event date is implausible unless the policy says otherwise (the
    contract's, the raw gate's too). -#}
{% macro default_earliest_date() %}{{ return(contract_earliest_event_date()) }}{% endmacro %}
