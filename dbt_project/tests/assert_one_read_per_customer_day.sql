-- The key of stg_raw__meter_reads_daily, (customer_id, read_date), tested on its customer-month
-- rollup: a repeated day makes a month's rows outnumber its distinct days.
select customer_id, reading_month, read_days, distinct_read_days
from {{ ref('int_customer_months_aggregated') }}
where read_days <> distinct_read_days
