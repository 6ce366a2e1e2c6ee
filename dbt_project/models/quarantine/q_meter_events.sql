{{ quarantine_source('meter_events') }}
