{{ stage_source('outages') }}
