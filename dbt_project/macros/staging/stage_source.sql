{#- Staging and quarantine for one raw table, driven by the generated contract
    (contract_tables) and the hand-written staging_policy. Each raw row is classified once:

    - quarantine_source(t): rows failing a check, with a ';'-joined `reason` listing every
      failed check; copies of a row that repeat it exactly (`exact_duplicate`: one row is
      staged, the copies are dropped and counted); and every row of a key whose rows differ
      (`conflicting_duplicate:<columns that differ>`, none staged). Raw columns are kept as
      loaded (non-PII only) with their lineage.
    - stage_source(t): every raw row not in quarantine, typed and normalised.

    So raw rows = staged rows + quarantined rows, by construction (row_accounting checks it). -#}

{% macro staging_columns(table_name) -%}
    {%- set table = contract_tables()[table_name] -%}
    {{ return(table['columns']) }}
{%- endmacro %}

{% macro contract_sql_type(dtype) -%}
    {%- if dtype == 'varchar' -%}{{ return(dbt.type_string()) }}
    {%- elif dtype == 'timestamp' -%}{{ return(dbt.type_timestamp()) }}
    {%- else -%}{{ return(dtype) }}
    {%- endif -%}
{%- endmacro %}

{#- The typed, normalised value of a raw column: codes matched case- and blank-insensitively
    to their canonical spelling (null when not allowed), text trimmed, the rest safe-cast. -#}
{% macro typed_expression(column, qualifier='') -%}
    {%- set name = qualifier ~ column['name'] -%}
    {%- if column['dtype'] == 'varchar' and column['allowed'] -%}
        case lower(trim(cast({{ name }} as {{ dbt.type_string() }})))
            {%- for value in column['allowed'] %}
            when '{{ value | lower }}' then '{{ value }}'
            {%- endfor %}
        end
    {%- elif column['dtype'] == 'varchar' -%}
        nullif(trim(cast({{ name }} as {{ dbt.type_string() }})), '')
    {%- else -%}
        {{ dbt.safe_cast(name, contract_sql_type(column['dtype'])) }}
    {%- endif -%}
{%- endmacro %}

{% macro raw_is_blank(column) -%}
    {%- if column['dtype'] == 'varchar' -%}
        nullif(trim(cast({{ column['name'] }} as {{ dbt.type_string() }})), '') is null
    {%- else -%}
        {{ column['name'] }} is null
    {%- endif -%}
{%- endmacro %}

{#- (condition, reason expression) pairs for one table, in reporting order. -#}
{% macro quarantine_checks(table_name) -%}
    {%- set table = contract_tables()[table_name] -%}
    {%- set policy = staging_policy()[table_name] -%}
    {%- set earliest = policy.get('earliest_dates', {}) -%}
    {%- set checks = [] -%}
    {%- for column in table['columns'] -%}
        {%- set name = column['name'] -%}
        {%- set typed = name ~ '__typed' -%}
        {%- if not column['nullable'] -%}
            {%- set kind = 'null_key' if name in table['key'] else 'null_value' -%}
            {%- do checks.append((raw_is_blank(column), "'" ~ kind ~ ":" ~ name ~ "'")) -%}
        {%- endif -%}
        {%- if column['allowed'] -%}
            {%- do checks.append(
                ("not (" ~ raw_is_blank(column) ~ ") and " ~ typed ~ " is null",
                 "'not_allowed:" ~ name ~ "=' || trim(cast(" ~ name ~ " as " ~ dbt.type_string() ~ "))")) -%}
        {%- elif column['dtype'] != 'varchar' -%}
            {%- do checks.append(
                ("not (" ~ raw_is_blank(column) ~ ") and " ~ typed ~ " is null",
                 "'unparseable:" ~ name ~ "'")) -%}
        {%- endif -%}
        {%- if column['minimum'] is not none -%}
            {%- do checks.append((typed ~ " < " ~ column['minimum'],
                                  "'out_of_range:" ~ name ~ "<" ~ column['minimum'] ~ "'")) -%}
        {%- endif -%}
        {%- if column['maximum'] is not none -%}
            {%- do checks.append((typed ~ " > " ~ column['maximum'],
                                  "'out_of_range:" ~ name ~ ">" ~ column['maximum'] ~ "'")) -%}
        {%- endif -%}
        {%- if name == table['time_column'] -%}
            {%- set event_date = "cast(" ~ typed ~ " as date)" -%}
            {%- do checks.append(
                (event_date ~ " > extract_window.extract_end_date or " ~ event_date ~ " < "
                 ~ date_literal(earliest.get(name, default_earliest_date())),
                 "'date_out_of_window:" ~ name ~ "'")) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for check in policy.get('row_checks', []) -%}
        {%- do checks.append((check['when'], "'" ~ check['reason'] ~ "'")) -%}
    {%- endfor -%}
    {%- if table['references_customers'] -%}
        {%- do checks.append(("customer_id__typed is not null and staged_customer_id is null",
                              "'orphan:customer_id'")) -%}
    {%- endif -%}
    {%- for orphan in policy.get('orphan_checks', []) -%}
        {%- do checks.append((orphan['column'] ~ "__typed is not null and known_" ~ orphan['column'] ~ " is null",
                              "'orphan:" ~ orphan['column'] ~ "'")) -%}
    {%- endfor -%}
    {{ return(checks) }}
{%- endmacro %}

{#- Columns of the raw table that may leave staging (everything but PII). -#}
{% macro raw_non_pii_columns(table_name) -%}
    {%- set names = [] -%}
    {%- for column in contract_tables()[table_name]['columns'] if not column['pii'] -%}
        {%- do names.append(column['name']) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{% macro identity_hash_expression() -%}
    {%- set salt = var('pii_salt') | replace("'", "''") -%}
    case when {{ normalise_identity('id_number') }} is not null
        then {{ sha256("'" ~ salt ~ "' || " ~ normalise_identity('id_number')) }}
    end
{%- endmacro %}

{#- Every row of `relation` (raw columns) typed and checked: raw non-PII columns, the typed
    values as <column>__typed, lineage, and `reason` (null when every check passes). Needs the
    CTEs extract_window, staged_customers and known_<column>_values of quarantine_source. -#}
{% macro classified_rows(table_name, relation) -%}
    {%- set table = contract_tables()[table_name] -%}
    {%- set policy = staging_policy()[table_name] -%}
    {%- set checks = quarantine_checks(table_name) -%}
    {%- set has_pii = table['columns'] | selectattr('pii') | list | length > 0 -%}
    select
        typed.*,
        case
            when {% for condition, reason in checks %}({{ condition }}){% if not loop.last %}
                or {% endif %}{% endfor %}
            then concat_ws(';',
                {%- for condition, reason in checks %}
                case when {{ condition }} then {{ reason }} end{% if not loop.last %},{% endif %}
                {%- endfor %}
            )
        end as reason
    from (
        select
            {% for name in raw_non_pii_columns(table_name) -%}
            {{ name }},
            {% endfor -%}
            {% if has_pii -%}
            {{ identity_hash_expression() }} as identity_hash,
            {% endif -%}
            {% for column in table['columns'] if not column['pii'] -%}
            {{ typed_expression(column) }} as {{ column['name'] }}__typed,
            {% endfor -%}
            _source_file,
            _source_row
        from {{ relation }}
    ) as typed
    cross join extract_window
    {% if table['references_customers'] -%}
    left join staged_customers
        on typed.customer_id__typed = staged_customers.staged_customer_id
    {% endif -%}
    {% for orphan in policy.get('orphan_checks', []) -%}
    left join known_{{ orphan['column'] }}_values
        on typed.{{ orphan['column'] }}__typed = known_{{ orphan['column'] }}_values.known_{{ orphan['column'] }}
    {% endfor %}
{%- endmacro %}

{% macro quarantine_source(table_name) -%}
    {%- set table = contract_tables()[table_name] -%}
    {%- set policy = staging_policy()[table_name] -%}
    {%- set key = table['key'] -%}
    {%- set has_pii = table['columns'] | selectattr('pii') | list | length > 0 -%}
    {%- set day_column = policy.get('dedup_day_column') -%}
    {%- set bitmask_condition = day_bitmask_duplicate_condition(day_column ~ '__typed') if day_column else none -%}
    {%- set group_key = (key | reject('equalto', day_column) | list) if bitmask_condition else key -%}
    {%- set output_columns = raw_non_pii_columns(table_name) + (['identity_hash'] if has_pii else [])
        + ['_source_file', '_source_row'] -%}
    {#- The raw table is named in each CTE that reads it instead of through one shared CTE: a
        CTE used several times may be materialised, which for the daily reads would copy tens
        of millions of rows to find a handful of bad ones. -#}

with

extract_window as (
    select extract_end_date from {{ ref('stg_raw__extract_window') }}
),

{% if table['references_customers'] -%}
staged_customers as (
    select customer_id as staged_customer_id, contracted_capacity_kva as staged_capacity_kva
    from {{ ref('stg_raw__customers') }}
),
{% endif -%}

{% for orphan in policy.get('orphan_checks', []) -%}
known_{{ orphan['column'] }}_values as (
    select distinct {{ orphan['model_column'] }} as known_{{ orphan['column'] }}
    from {{ ref(orphan['model']) }}
),
{% endfor -%}

rejected as (
    select *
    from ({{ classified_rows(table_name, source('raw', table_name)) }}) as classified
    where reason is not null
),

{#- Duplicates: first find the few key groups that can hold one, cheaply, from the raw keys;
    then check and rank only the rows in those groups. On DuckDB a daily table is grouped by
    month with a bitmask of days, far cheaper than grouping by every (customer, day). #}
raw_keys as (
    select
        {% for column in table['columns'] if column['name'] in key -%}
        {{ typed_expression(column) }} as {{ column['name'] }}__typed{% if not loop.last %},{% endif %}
        {% endfor %}
    from {{ source('raw', table_name) }}
),

duplicate_groups as (
    select
        {% for name in group_key %}{{ name }}__typed{% if not loop.last or bitmask_condition %}, {% endif %}{% endfor %}
        {%- if bitmask_condition %}{{ dbt.date_trunc('month', day_column ~ '__typed') }} as key_month{% endif %}
    from raw_keys
    where {% for name in key %}{{ name }}__typed is not null{% if not loop.last %} and {% endif %}{% endfor %}
    group by {% for name in group_key %}{{ name }}__typed{% if not loop.last or bitmask_condition %}, {% endif %}{% endfor %}
        {%- if bitmask_condition %}{{ dbt.date_trunc('month', day_column ~ '__typed') }}{% endif %}
    having {{ bitmask_condition if bitmask_condition else 'count(*) > 1' }}
),

duplicate_group_rows as (
    select source_rows.*
    from {{ source('raw', table_name) }} as source_rows
    inner join duplicate_groups
        on {% for column in table['columns'] if column['name'] in group_key -%}
        {{ typed_expression(column, 'source_rows.') }}
            = duplicate_groups.{{ column['name'] }}__typed
        {% if not loop.last %}and {% endif %}
        {%- endfor %}
        {%- if bitmask_condition %}
        and {{ dbt.date_trunc('month', typed_expression(
            table['columns'] | selectattr('name', 'equalto', day_column) | first, 'source_rows.')) }}
            = duplicate_groups.key_month
        {%- endif %}
),

duplicate_candidates as (
    select *
    from ({{ classified_rows(table_name, 'duplicate_group_rows') }}) as classified
    where reason is null
),

{#- Within a key: rows equal in every column are exact duplicates (one is staged, the copies are
    dropped and counted); rows that differ are conflicting duplicates, and every row of the key
    goes to quarantine naming the columns that differ, for the source system to resolve. #}
{%- set compared = table['columns'] | rejectattr('pii') | rejectattr('name', 'in', key) | map(attribute='name') | list
    + (['identity_hash'] if has_pii else []) %}
ranked_candidates as (
    select
        duplicate_candidates.*,
        row_number() over key_rows as key_rank,
        {% if compared -%}
        concat_ws(','
            {%- for name in compared %}
            {%- set value = name if name == 'identity_hash' else name ~ '__typed' %},
            case when min({{ value }}) over key_group is distinct from max({{ value }}) over key_group
                or count({{ value }}) over key_group not in (0, count(*) over key_group)
                then '{{ name }}' end
            {%- endfor %}
        )
        {%- else -%}
        ''
        {%- endif %} as differing_columns
    from duplicate_candidates
    window
        key_group as (
            partition by {% for name in key %}{{ name }}__typed{% if not loop.last %}, {% endif %}{% endfor %}
        ),
        key_rows as (
            partition by {% for name in key %}{{ name }}__typed{% if not loop.last %}, {% endif %}{% endfor %}
            order by _source_file desc, _source_row desc
        )
),

quarantined as (
    select {{ output_columns | join(', ') }}, reason
    from rejected

    union all

    select {{ output_columns | join(', ') }}, 'exact_duplicate' as reason
    from ranked_candidates
    where key_rank > 1 and differing_columns = ''

    union all

    select {{ output_columns | join(', ') }}, 'conflicting_duplicate:' || differing_columns as reason
    from ranked_candidates
    where differing_columns <> ''
)

select * from quarantined
{%- endmacro %}


{% macro stage_source(table_name) -%}
    {%- set table = contract_tables()[table_name] -%}
    {%- set renames = table['renames'] -%}
    {%- set has_pii = table['columns'] | selectattr('pii') | list | length > 0 -%}

with

source as (
    select * from {{ source('raw', table_name) }}
),

quarantined as (
    select _source_file as quarantined_file, _source_row as quarantined_row
    from {{ ref('q_' ~ table_name) }}
),

{#- A left join kept to the unmatched rows, not `not exists`: DuckDB plans the correlated form
    badly once a filter on the view is pushed into it (13 s instead of 1 s on daily reads). #}
accepted as (
    select source.*
    from source
    left join quarantined
        on source._source_row = quarantined.quarantined_row
        and source._source_file = quarantined.quarantined_file
    where quarantined.quarantined_row is null
),

staged as (
    select
        {% for column in table['columns'] if not column['pii'] -%}
        {{ typed_expression(column) }} as {{ renames.get(column['name'], column['name']) }},
        {% endfor -%}
        {% if has_pii -%}
        {{ identity_hash_expression() }} as identity_hash,
        {% endif -%}
        _source_file,
        _source_row
    from accepted
)

select * from staged
{%- endmacro %}
