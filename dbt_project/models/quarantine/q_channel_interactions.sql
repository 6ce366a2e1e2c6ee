{{ quarantine_source('channel_interactions') }}
