-- Every attributed conversion counted from events lands in exactly one performance row:
-- per account, the revenue of the conversions fct_events credits to a campaign (flow)
-- that has no report rows equals the events-sourced revenue of fct_campaign_message_daily
-- (fct_flow_message_daily outside the reported days). Rows returned are mismatches.
with credited as (
    select
        account_id,
        case when attributed_flow_message_id is not null then 'flow' else 'campaign' end
            as kind,
        event_date,
        attributed_campaign_id,
        revenue
    from {{ ref('fct_events') }}
    where
        is_conversion
        and (attributed_campaign_id is not null or attributed_flow_message_id is not null)
),

reported_campaigns as (
    select distinct account_id, campaign_id
    from {{ ref('stg_klaviyo__campaign_values_reports') }}
),

reported_days as (
    select account_id, min(date) as first_day, max(through_date) as last_day
    from {{ ref('stg_klaviyo__flow_values_reports') }}
    group by account_id
),

expected as (
    select c.account_id, c.kind, coalesce(sum(c.revenue), 0) as revenue
    from credited as c
    left join reported_campaigns as rc
        on c.account_id = rc.account_id
        and c.attributed_campaign_id = rc.campaign_id
    left join reported_days as rd
        on c.account_id = rd.account_id
    where
        (c.kind = 'campaign' and rc.campaign_id is null)
        or (
            c.kind = 'flow'
            and (rd.account_id is null or c.event_date not between rd.first_day and rd.last_day)
        )
    group by c.account_id, c.kind
),

actual as (
    select account_id, 'campaign' as kind, sum(revenue) as revenue
    from {{ ref('fct_campaign_message_daily') }}
    where source = 'events'
    group by account_id
    union all
    select account_id, 'flow' as kind, sum(revenue) as revenue
    from {{ ref('fct_flow_message_daily') }}
    where source = 'events'
    group by account_id
)

select
    coalesce(e.account_id, a.account_id) as account_id,
    coalesce(e.kind, a.kind) as kind,
    e.revenue as expected_revenue,
    a.revenue as actual_revenue
from expected as e
full outer join actual as a
    on e.account_id = a.account_id
    and e.kind = a.kind
where coalesce(e.revenue, 0) <> coalesce(a.revenue, 0)
