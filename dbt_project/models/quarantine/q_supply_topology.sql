{{ quarantine_source('supply_topology') }}
