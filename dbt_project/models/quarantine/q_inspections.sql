{{ quarantine_source('inspections') }}
