with source as (
    {{ klaviyo_source('global_exclusions', {
        'profile_id': 'text',
        'channel': 'text',
        'reason': 'text',
        'timestamp': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    profile_id,
    channel,
    reason,
    timestamp as excluded_at
from source
