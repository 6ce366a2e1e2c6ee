{{ quarantine_source('meter_reads_daily') }}
