with source as (
    {{ klaviyo_source('profiles', {
        'id': 'text',
        'email': 'text',
        'phone_number': 'text',
        'external_id': 'text',
        'first_name': 'text',
        'last_name': 'text',
        'organization': 'text',
        'locale': 'text',
        'location': 'jsonb',
        'subscriptions': 'jsonb',
        'created': 'timestamp',
        'updated': 'timestamp',
        'last_event_date': 'timestamp',
    }) }}
),

consent as (
    select
        *,
        subscriptions -> 'email' -> 'marketing' as email_marketing,
        subscriptions -> 'sms' -> 'marketing' as sms_marketing
    from source
)

select
    account_id,
    source_schema,
    id as profile_id,
    email,
    phone_number,
    external_id,
    first_name,
    last_name,
    organization,
    locale,
    location ->> 'country' as country,
    location ->> 'city' as city,
    email_marketing ->> 'consent' as email_consent,
    cast(email_marketing ->> 'can_receive_email_marketing' as boolean)
        as can_receive_email_marketing,
    -- Klaviyo sends [] for a profile without suppressions; null means it was not asked for.
    email_marketing -> 'suppression' as email_suppressions,
    email_marketing -> 'list_suppressions' as email_list_suppressions,
    sms_marketing ->> 'consent' as sms_consent,
    cast(sms_marketing ->> 'can_receive_sms_marketing' as boolean) as can_receive_sms_marketing,
    created as created_at,
    updated as updated_at,
    last_event_date as last_event_at
from consent
