with source as (
    {{ klaviyo_source('metrics', {
        'id': 'text',
        'name': 'text',
        'integration': 'jsonb',
        'created': 'timestamp',
        'updated': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as metric_id,
    name as metric_name,
    integration ->> 'name' as integration_name,
    created as created_at,
    updated as updated_at
from source
