with source as (
    {{ klaviyo_source('segments', {
        'id': 'text',
        'name': 'text',
        'is_active': 'boolean',
        'is_starred': 'boolean',
        'created': 'timestamp',
        'updated': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as segment_id,
    name as segment_name,
    is_active,
    is_starred,
    created as created_at,
    updated as updated_at
from source
