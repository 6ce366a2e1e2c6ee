{{ quarantine_source('payments') }}
