-- Opt-in stream (segment_series_reports): empty unless selected.
{%- set keys = {'segment_id': 'text', 'date': 'date'} %}
{%- set statistics = ['members_added', 'members_removed', 'net_members_changed', 'total_members'] %}

with source as (
    {{ klaviyo_source('segment_series_reports', report_columns(keys, statistics)) }}
)

select * from source
