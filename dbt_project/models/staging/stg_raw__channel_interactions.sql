{{ stage_source('channel_interactions') }}
