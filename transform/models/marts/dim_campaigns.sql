-- One row per campaign with its lifetime totals from fct_campaign_message_daily: "which
-- campaigns made the most money?" is a sort on revenue. Unique counts are left out, as
-- they do not add up over days.
with campaigns as (
    select * from {{ ref('stg_klaviyo__campaigns') }}
),

messages as (
    select
        account_id,
        campaign_id,
        count(*) as message_count,
        min(subject) as subject
    from {{ ref('stg_klaviyo__campaign_messages') }}
    group by account_id, campaign_id
),

performance as (
    select
        account_id,
        campaign_id,
        -- A campaign's rows all come from one source (see fct_campaign_message_daily).
        min(source) as source,
        sum(delivered) as delivered,
        sum(opens) as opens,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from {{ ref('fct_campaign_message_daily') }}
    group by account_id, campaign_id
)

select
    c.account_id,
    c.campaign_id,
    c.campaign_name,
    c.channel,
    c.status,
    c.archived,
    c.sent_at,
    c.created_at,
    c.updated_at,
    coalesce(m.message_count, 0) as message_count,
    m.subject,
    p.source,
    coalesce(p.delivered, 0) as delivered,
    coalesce(p.opens, 0) as opens,
    coalesce(p.clicks, 0) as clicks,
    coalesce(p.conversions, 0) as conversions,
    coalesce(p.revenue, 0) as revenue
from campaigns as c
left join messages as m
    on c.account_id = m.account_id
    and c.campaign_id = m.campaign_id
left join performance as p
    on c.account_id = p.account_id
    and c.campaign_id = p.campaign_id
