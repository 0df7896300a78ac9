with source as (
    {{ klaviyo_source('campaign_messages', {
        'id': 'text',
        'campaign_id': 'text',
        'template_id': 'text',
        'definition': 'jsonb',
        'created_at': 'timestamp',
        'updated_at': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as campaign_message_id,
    campaign_id,
    template_id,
    definition ->> 'label' as label,
    definition ->> 'channel' as channel,
    definition -> 'content' ->> 'subject' as subject,
    created_at,
    updated_at
from source
