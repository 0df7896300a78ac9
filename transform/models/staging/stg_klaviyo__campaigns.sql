with source as (
    {{ klaviyo_source('campaigns', {
        'id': 'text',
        'name': 'text',
        'channel': 'text',
        'status': 'text',
        'archived': 'boolean',
        'audiences': 'jsonb',
        'send_time': 'timestamp',
        'scheduled_at': 'timestamp',
        'created_at': 'timestamp',
        'updated_at': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as campaign_id,
    name as campaign_name,
    channel,
    status,
    archived,
    audiences,
    send_time as sent_at,
    scheduled_at,
    created_at,
    updated_at
from source
