{{ quarantine_source('work_orders') }}
