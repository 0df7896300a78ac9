-- Opt-in stream (flow_values_reports): empty unless selected.
{%- set keys = {
    'flow_id': 'text',
    'flow_message_id': 'text',
    'send_channel': 'text',
    'period': 'text',
    'date': 'date',
    'through_date': 'date',
    'conversion_metric_id': 'text',
} %}

with source as (
    {{ klaviyo_source('flow_values_reports', report_columns(keys, message_report_statistics())) }}
)

select * from source
