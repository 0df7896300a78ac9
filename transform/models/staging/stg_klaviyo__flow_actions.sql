with source as (
    {{ klaviyo_source('flow_actions', {
        'id': 'text',
        'flow_id': 'text',
        'definition': 'jsonb',
        'created': 'timestamp',
        'updated': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as flow_action_id,
    flow_id,
    definition ->> 'type' as action_type,
    definition -> 'data' ->> 'status' as status,
    created as created_at,
    updated as updated_at
from source
