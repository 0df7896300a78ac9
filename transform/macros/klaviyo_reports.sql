{#- The counts and sums of campaign and flow reports the staging models keep (rates are
    left out: they do not add up, the marts compute them from the counts). A statistic not
    asked for (reporting_*_statistics) reads as null. -#}
{% macro message_report_statistics() %}
    {{ return([
        'recipients', 'delivered', 'bounced', 'opens', 'opens_unique', 'clicks',
        'clicks_unique', 'conversions', 'conversion_uniques', 'conversion_value',
        'unsubscribe_uniques', 'spam_complaints',
    ]) }}
{% endmacro %}


{#- Name -> SQL type of a report table's columns: its keys, then the statistics. -#}
{% macro report_columns(keys, statistics) %}
    {%- set columns = {} -%}
    {%- do columns.update(keys) -%}
    {%- for statistic in statistics -%}
        {%- do columns.update({statistic: 'numeric'}) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}
