{{ stage_source('work_orders') }}
