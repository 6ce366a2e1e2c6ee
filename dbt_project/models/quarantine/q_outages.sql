{{ quarantine_source('outages') }}
