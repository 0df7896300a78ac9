{#- Loaded date-times are UTC without a zone; a day of the marts is a day in the
    account's timezone, as in Klaviyo's own reports. -#}
{% macro local_date(utc_timestamp, timezone) %}
    cast(({{ utc_timestamp }} at time zone 'UTC') at time zone {{ timezone }} as date)
{% endmacro %}


{#- The timezone of the marts' days: the var when set, else the account's own (a column,
    null where the accounts stream was not loaded), else UTC. -#}
{% macro reporting_timezone(account_timezone) %}
    {%- set forced = var('reporting_timezone', none) -%}
    {%- if forced -%}
        {{ sql_string(forced) }}
    {%- else -%}
        coalesce({{ account_timezone }}, 'UTC')
    {%- endif -%}
{% endmacro %}


{#- The day of a UTC date-time for the account of the row, given the account's timezone
    column of account_timezones(). -#}
{% macro account_date(utc_timestamp, account_timezone) %}
    {{- local_date(utc_timestamp, reporting_timezone(account_timezone)) -}}
{% endmacro %}


{#- The timezone of each account, one row per account (the accounts table of a schema
    holds one account; a stray second row must not double the marts' rows). -#}
{% macro account_timezones() %}
    select account_id, min(timezone) as timezone
    from {{ ref('stg_klaviyo__accounts') }}
    group by account_id
{% endmacro %}
