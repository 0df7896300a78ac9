with source as (
    {{ klaviyo_source('segment_members', {
        'segment_id': 'text',
        'profile_id': 'text',
        'joined_group_at': 'timestamp',
    }) }}
)

select
    account_id,
    source_schema,
    segment_id,
    profile_id,
    joined_group_at as joined_at
from source
