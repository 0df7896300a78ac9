with source as (
    {{ klaviyo_source('flow_messages', {
        'id': 'text',
        'flow_id': 'text',
        'flow_action_id': 'text',
        'channel': 'text',
        'definition': 'jsonb',
        'created': 'timestamp',
        'updated': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as flow_message_id,
    flow_id,
    flow_action_id,
    channel,
    definition ->> 'name' as message_name,
    definition ->> 'subject_line' as subject,
    created as created_at,
    updated as updated_at
from source
