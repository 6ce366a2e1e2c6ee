{{ stage_source('inspections') }}
