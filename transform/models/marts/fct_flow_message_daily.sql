-- Flow performance per flow message, channel and day.
--
-- Days the flow_values_reports stream covers for an account (its first day to its last)
-- take Klaviyo's own numbers (source = 'report', one row per report period). Other days
-- are counted from the events (source = 'events', days in the account's timezone):
-- delivered, opened and clicked emails of the flow message, and conversions and revenue
-- of the conversion metric credited to it by attribution, on the day of the order.
with events as (
    select * from {{ ref('fct_events') }}
),

flow_messages as (
    select account_id, flow_message_id, flow_id, channel
    from {{ ref('stg_klaviyo__flow_messages') }}
),

reports as (
    select * from {{ ref('stg_klaviyo__flow_values_reports') }}
),

-- The tap reads every flow for each report day, so a day inside the range is covered for
-- every flow message, with or without a row of its own.
reported_days as (
    select account_id, min(date) as first_day, max(through_date) as last_day
    from reports
    group by account_id
),

message_events as (
    select
        account_id,
        flow_id,
        flow_message_id,
        event_date as date,
        count(*) filter (where metric_name = {{ sql_string(var('delivered_metric')) }})
            as delivered,
        count(*) filter (where metric_name = {{ sql_string(var('open_metric')) }}) as opens,
        count(distinct profile_id) filter (
            where metric_name = {{ sql_string(var('open_metric')) }}
        ) as unique_opens,
        count(*) filter (where metric_name = {{ sql_string(var('click_metric')) }}) as clicks,
        count(distinct profile_id) filter (
            where metric_name = {{ sql_string(var('click_metric')) }}
        ) as unique_clicks
    from events
    where flow_message_id is not null
    group by account_id, flow_id, flow_message_id, event_date
),

conversion_events as (
    select
        account_id,
        attributed_flow_id as flow_id,
        attributed_flow_message_id as flow_message_id,
        event_date as date,
        count(*) as conversions,
        count(distinct profile_id) as unique_conversions,
        coalesce(sum(revenue), 0) as revenue
    from events
    where is_conversion and attributed_flow_message_id is not null
    group by account_id, attributed_flow_id, attributed_flow_message_id, event_date
),

from_events as (
    select
        coalesce(m.account_id, c.account_id) as account_id,
        coalesce(m.flow_id, c.flow_id) as flow_id,
        coalesce(m.flow_message_id, c.flow_message_id) as flow_message_id,
        coalesce(m.date, c.date) as date,
        coalesce(m.delivered, 0) as delivered,
        coalesce(m.opens, 0) as opens,
        coalesce(m.unique_opens, 0) as unique_opens,
        coalesce(m.clicks, 0) as clicks,
        coalesce(m.unique_clicks, 0) as unique_clicks,
        coalesce(c.conversions, 0) as conversions,
        coalesce(c.unique_conversions, 0) as unique_conversions,
        coalesce(c.revenue, 0) as revenue
    from message_events as m
    full outer join conversion_events as c
        on m.account_id = c.account_id
        and m.flow_message_id = c.flow_message_id
        and m.date = c.date
),

unioned as (
    select
        e.account_id,
        coalesce(e.flow_id, fm.flow_id) as flow_id,
        e.flow_message_id,
        fm.channel as send_channel,
        'day' as period,
        e.date,
        e.date as through_date,
        'events' as source,
        cast(null as numeric) as recipients,
        cast(e.delivered as numeric) as delivered,
        cast(e.opens as numeric) as opens,
        cast(e.unique_opens as numeric) as unique_opens,
        cast(e.clicks as numeric) as clicks,
        cast(e.unique_clicks as numeric) as unique_clicks,
        cast(e.conversions as numeric) as conversions,
        cast(e.unique_conversions as numeric) as unique_conversions,
        cast(e.revenue as numeric) as revenue
    from from_events as e
    left join flow_messages as fm
        on e.account_id = fm.account_id
        and e.flow_message_id = fm.flow_message_id
    left join reported_days as r
        on e.account_id = r.account_id
    where r.account_id is null or e.date not between r.first_day and r.last_day

    union all

    select
        account_id,
        flow_id,
        flow_message_id,
        send_channel,
        period,
        date,
        through_date,
        'report' as source,
        recipients,
        delivered,
        opens,
        opens_unique as unique_opens,
        clicks,
        clicks_unique as unique_clicks,
        conversions,
        conversion_uniques as unique_conversions,
        conversion_value as revenue
    from reports
)

select
    account_id,
    flow_id,
    flow_message_id,
    send_channel,
    period,
    date,
    through_date,
    source,
    recipients,
    delivered,
    opens,
    unique_opens,
    clicks,
    unique_clicks,
    conversions,
    unique_conversions,
    revenue,
    -- Klaviyo's own definitions: unique counts over delivered messages.
    unique_opens / nullif(delivered, 0) as open_rate,
    unique_clicks / nullif(delivered, 0) as click_rate,
    unique_conversions / nullif(delivered, 0) as conversion_rate
from unioned
