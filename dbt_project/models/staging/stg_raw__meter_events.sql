{{ stage_source('meter_events') }}
