-- Every raw row is either staged, quarantined with a reason, or quarantined as a duplicate.
select *
from {{ ref('row_accounting') }}
where raw_rows <> staged_rows + quarantined_rows + duplicate_rows
