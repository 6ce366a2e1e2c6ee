{{ stage_source('bills') }}
