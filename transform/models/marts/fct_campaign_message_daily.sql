-- Campaign performance per message, channel and day.
--
-- A campaign the campaign_values_reports stream has rows for takes Klaviyo's own numbers
-- (source = 'report', one row per report period). Every other campaign is counted from
-- its events (source = 'events', one row per day in the account's timezone): delivered,
-- opened and clicked emails on the day they happened, conversions and revenue of the
-- conversion metric on the day of the order, credited to the campaign its attribution
-- names. The two never overlap for a campaign.
with events as (
    select * from {{ ref('fct_events') }}
),

campaigns as (
    select account_id, campaign_id, channel from {{ ref('stg_klaviyo__campaigns') }}
),

-- Klaviyo's events name the campaign, not its message; a campaign with one message (the
-- rule, A/B tests aside) is credited to it.
single_messages as (
    select account_id, campaign_id, min(campaign_message_id) as campaign_message_id
    from {{ ref('stg_klaviyo__campaign_messages') }}
    group by account_id, campaign_id
    having count(*) = 1
),

reports as (
    select * from {{ ref('stg_klaviyo__campaign_values_reports') }}
),

reported_campaigns as (
    select distinct account_id, campaign_id from reports
),

message_events as (
    select
        account_id,
        campaign_id,
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
    where campaign_id is not null
    group by account_id, campaign_id, event_date
),

conversion_events as (
    select
        account_id,
        attributed_campaign_id as campaign_id,
        event_date as date,
        count(*) as conversions,
        count(distinct profile_id) as unique_conversions,
        coalesce(sum(revenue), 0) as revenue
    from events
    where is_conversion and attributed_campaign_id is not null
    group by account_id, attributed_campaign_id, event_date
),

from_events as (
    select
        coalesce(m.account_id, c.account_id) as account_id,
        coalesce(m.campaign_id, c.campaign_id) as campaign_id,
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
        and m.campaign_id = c.campaign_id
        and m.date = c.date
),

unioned as (
    select
        e.account_id,
        e.campaign_id,
        s.campaign_message_id,
        campaigns.channel as send_channel,
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
    left join single_messages as s
        on e.account_id = s.account_id
        and e.campaign_id = s.campaign_id
    left join campaigns
        on e.account_id = campaigns.account_id
        and e.campaign_id = campaigns.campaign_id
    where not exists (
        select 1
        from reported_campaigns as r
        where r.account_id = e.account_id and r.campaign_id = e.campaign_id
    )

    union all

    select
        account_id,
        campaign_id,
        campaign_message_id,
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
    campaign_id,
    campaign_message_id,
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
