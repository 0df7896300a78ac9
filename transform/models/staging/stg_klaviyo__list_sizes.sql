-- Opt-in stream (list_sizes): empty unless selected.
with source as (
    {{ klaviyo_source('list_sizes', {
        'list_id': 'text',
        'date': 'date',
        'observed_at': 'timestamp',
        'profile_count': 'bigint',
    }) }}
)

select
    account_id,
    source_schema,
    list_id,
    date as snapshot_date,
    observed_at,
    profile_count
from source
