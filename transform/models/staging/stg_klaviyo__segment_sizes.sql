-- Opt-in stream (segment_sizes): empty unless selected.
with source as (
    {{ klaviyo_source('segment_sizes', {
        'segment_id': 'text',
        'date': 'date',
        'observed_at': 'timestamp',
        'profile_count': 'bigint',
    }) }}
)

select
    account_id,
    source_schema,
    segment_id,
    date as snapshot_date,
    observed_at,
    profile_count
from source
