with source as (
    {{ klaviyo_source('accounts', {
        'id': 'text',
        'timezone': 'text',
        'preferred_currency': 'text',
        'locale': 'text',
        'industry': 'text',
        'test_account': 'boolean',
        'contact_information': 'jsonb',
    }) }}
)

select
    account_id,
    source_schema,
    id as klaviyo_account_id,
    contact_information ->> 'organization_name' as organization_name,
    timezone,
    preferred_currency,
    locale,
    industry,
    test_account
from source
