-- One row per flow with its lifetime totals from fct_flow_message_daily (unique counts
-- are left out, as they do not add up over days and messages).
with flows as (
    select * from {{ ref('stg_klaviyo__flows') }}
),

messages as (
    select account_id, flow_id, count(*) as message_count
    from {{ ref('stg_klaviyo__flow_messages') }}
    group by account_id, flow_id
),

performance as (
    select
        account_id,
        flow_id,
        sum(delivered) as delivered,
        sum(opens) as opens,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from {{ ref('fct_flow_message_daily') }}
    group by account_id, flow_id
)

select
    f.account_id,
    f.flow_id,
    f.flow_name,
    f.status,
    f.archived,
    f.trigger_type,
    f.created_at,
    f.updated_at,
    coalesce(m.message_count, 0) as message_count,
    coalesce(p.delivered, 0) as delivered,
    coalesce(p.opens, 0) as opens,
    coalesce(p.clicks, 0) as clicks,
    coalesce(p.conversions, 0) as conversions,
    coalesce(p.revenue, 0) as revenue
from flows as f
left join messages as m
    on f.account_id = m.account_id
    and f.flow_id = m.flow_id
left join performance as p
    on f.account_id = p.account_id
    and f.flow_id = p.flow_id
