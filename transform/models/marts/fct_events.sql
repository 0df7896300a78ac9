-- One row per event: its metric's name, its day in the account's timezone and, for an
-- event attributed to a message (an order after a click), the campaign or flow message
-- credited with it.
with events as (
    select * from {{ ref('stg_klaviyo__events') }}
),

metrics as (
    select account_id, metric_id, metric_name from {{ ref('stg_klaviyo__metrics') }}
),

timezones as (
    {{ account_timezones() }}
),

campaigns as (
    select account_id, campaign_id from {{ ref('stg_klaviyo__campaigns') }}
),

campaign_messages as (
    select account_id, campaign_message_id, campaign_id
    from {{ ref('stg_klaviyo__campaign_messages') }}
),

flow_messages as (
    select account_id, flow_message_id, flow_id from {{ ref('stg_klaviyo__flow_messages') }}
),

-- The event an attribution points to (the open or the click) names its campaign or flow
-- message best. Without it (older than the events read, or not loaded) the attribution's
-- own ids are matched against the account's campaigns, campaign messages and flow
-- messages: Klaviyo puts a campaign's id, or a flow message's, in $attributed_message.
attribution as (
    select
        e.account_id,
        e.event_id,
        coalesce(credited.flow_id, e.attributed_flow_id, fm.flow_id) as flow_id,
        coalesce(
            credited.flow_message_id,
            case
                when e.attributed_flow_id is not null or fm.flow_id is not null
                    then e.attributed_message_id
            end
        ) as flow_message_id,
        coalesce(credited.campaign_id, c.campaign_id, cm.campaign_id) as campaign_id,
        cm.campaign_message_id
    from events as e
    left join events as credited
        on e.account_id = credited.account_id
        and e.attributed_event_id = credited.event_id
    left join campaigns as c
        on e.account_id = c.account_id
        and e.attributed_message_id = c.campaign_id
    left join campaign_messages as cm
        on e.account_id = cm.account_id
        and e.attributed_message_id = cm.campaign_message_id
    left join flow_messages as fm
        on e.account_id = fm.account_id
        and e.attributed_message_id = fm.flow_message_id
    where
        e.attributed_event_id is not null
        or e.attributed_message_id is not null
        or e.attributed_flow_id is not null
),

named as (
    select
        e.*,
        coalesce(e.metric_name, m.metric_name) as resolved_metric_name
    from events as e
    left join metrics as m
        on e.account_id = m.account_id
        and e.metric_id = m.metric_id
)

select
    e.account_id,
    e.event_id,
    e.occurred_at,
    {{ account_date('e.occurred_at', 'tz.timezone') }} as event_date,
    e.metric_id,
    e.resolved_metric_name as metric_name,
    e.profile_id,
    e.campaign_id,
    e.flow_id,
    e.flow_message_id,
    e.variation_id,
    e.attributed_event_id,
    e.attributed_channel,
    -- A flow wins when both are named: a flow message's id never names a campaign.
    case when a.flow_id is null then a.campaign_id end as attributed_campaign_id,
    case when a.flow_id is null then a.campaign_message_id end
        as attributed_campaign_message_id,
    a.flow_id as attributed_flow_id,
    a.flow_message_id as attributed_flow_message_id,
    coalesce(e.resolved_metric_name = {{ sql_string(var('conversion_metric')) }}, false)
        as is_conversion,
    case
        when e.resolved_metric_name = {{ sql_string(var('conversion_metric')) }} then e.value
    end as revenue,
    e.value,
    e.event_properties,
    e.uuid
from named as e
left join attribution as a
    on e.account_id = a.account_id
    and e.event_id = a.event_id
left join timezones as tz
    on e.account_id = tz.account_id
