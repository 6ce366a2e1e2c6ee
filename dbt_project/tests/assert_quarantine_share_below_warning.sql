-- Warns (never blocks) when a raw table loses more than the thresholds seed's
-- quarantine_warn_share of its rows to quarantine: the delivery is usable, but something in the
-- source system is off and the quarantine tables say what.
{{ config(severity='warn') }}

select
    table_name,
    raw_rows,
    quarantined_rows,
    round(quarantined_rows * 1.0 / raw_rows, 4) as quarantined_share
from {{ ref('row_accounting') }}
where raw_rows > 0
    and quarantined_rows * 1.0 / raw_rows > {{ threshold('quarantine_warn_share') }}
