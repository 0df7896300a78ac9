with source as (
    {{ klaviyo_source('list_exclusions', {
        'list_id': 'text',
        'profile_id': 'text',
        'reason': 'text',
        'timestamp': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    list_id,
    profile_id,
    reason,
    timestamp as excluded_at
from source
