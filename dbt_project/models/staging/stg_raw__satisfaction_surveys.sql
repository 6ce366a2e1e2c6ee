{{ stage_source('satisfaction_surveys') }}
