{{ quarantine_source('bills') }}
