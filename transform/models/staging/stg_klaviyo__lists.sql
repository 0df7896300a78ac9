with source as (
    {{ klaviyo_source('lists', {
        'id': 'text',
        'name': 'text',
        'opt_in_process': 'text',
        'created': 'timestamp',
        'updated': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    id as list_id,
    name as list_name,
    opt_in_process,
    created as created_at,
    updated as updated_at
from source
