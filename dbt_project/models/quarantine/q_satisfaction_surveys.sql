{{ quarantine_source('satisfaction_surveys') }}
