{{ stage_source('payments') }}
