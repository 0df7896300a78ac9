with source as (
    {{ klaviyo_source('events', {
        'id': 'text',
        'datetime': 'timestamp',
        'metric_id': 'text',
        'metric_name': 'text',
        'profile_id': 'text',
        'campaign_id': 'text',
        'flow_id': 'text',
        'flow_message_id': 'text',
        'variation_id': 'text',
        'attributed_event_id': 'text',
        'attributed_flow_id': 'text',
        'attributed_message_id': 'text',
        'attributed_channel': 'text',
        'event_properties': 'jsonb',
        'uuid': 'text',
    }) }}
)

select
    account_id,
    source_schema,
    id as event_id,
    datetime as occurred_at,
    metric_id,
    metric_name,
    profile_id,
    campaign_id,
    flow_id,
    flow_message_id,
    variation_id,
    attributed_event_id,
    attributed_flow_id,
    attributed_message_id,
    attributed_channel,
    {{ json_number("event_properties -> '$value'") }} as value,
    event_properties,
    uuid
from source
