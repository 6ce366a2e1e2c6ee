{{ stage_source('supply_topology') }}
