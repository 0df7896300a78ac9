-- Opt-in stream (form_values_reports): empty unless selected.
{%- set keys = {
    'form_id': 'text',
    'form_version_id': 'text',
    'period': 'text',
    'date': 'date',
    'through_date': 'date',
} %}
{%- set statistics = [
    'viewed_form', 'viewed_form_uniques', 'submits', 'closed_form', 'closed_form_uniques',
] %}

with source as (
    {{ klaviyo_source('form_values_reports', report_columns(keys, statistics)) }}
)

select * from source
