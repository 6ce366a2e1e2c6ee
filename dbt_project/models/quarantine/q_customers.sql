{{ quarantine_source('customers') }}
