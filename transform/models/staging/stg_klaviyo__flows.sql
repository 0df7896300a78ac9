with source as (
    {{ klaviyo_source('flows', {
        'id': 'text',
        'name': 'text',
        'status': 'text',
        'archived': 'boolean',
        'trigger_type': 'text',
        'created': 'timestamp',
        'updated': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as flow_id,
    name as flow_name,
    status,
    archived,
    trigger_type,
    created as created_at,
    updated as updated_at
from source
