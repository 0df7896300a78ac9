-- One row per profile: who, their orders (the conversion metric's events) and whether
-- they may be emailed.
--
-- Consent comes from the profile's subscriptions (the tap asks for them by default) and
-- from global_exclusions, the suppressions read on their own timestamps: a suppression
-- newer than the profile's last read shows there first.
with profiles as (
    select * from {{ ref('stg_klaviyo__profiles') }}
),

orders as (
    select
        account_id,
        profile_id,
        count(*) as order_count,
        coalesce(sum(revenue), 0) as revenue,
        min(occurred_at) as first_order_at,
        max(occurred_at) as last_order_at
    from {{ ref('fct_events') }}
    where is_conversion and profile_id is not null
    group by account_id, profile_id
),

-- The profile's own suppressions, for runs without the global_exclusions stream.
profile_suppressions as (
    select
        p.account_id,
        p.profile_id,
        string_agg(distinct s.value ->> 'reason', ', ' order by s.value ->> 'reason')
            as reasons,
        min(cast(cast(s.value ->> 'timestamp' as timestamptz) at time zone 'UTC' as timestamp))
            as suppressed_at
    from profiles as p
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(p.email_suppressions) = 'array' then p.email_suppressions end
    ) as s
    group by p.account_id, p.profile_id
),

exclusions as (
    select
        account_id,
        profile_id,
        string_agg(distinct reason, ', ' order by reason) as reasons,
        min(excluded_at) as suppressed_at
    from {{ ref('stg_klaviyo__global_exclusions') }}
    where channel = 'email'
    group by account_id, profile_id
),

memberships as (
    select account_id, profile_id, count(*) as list_count
    from {{ ref('stg_klaviyo__list_members') }}
    group by account_id, profile_id
)

select
    p.account_id,
    p.profile_id,
    p.email,
    p.phone_number,
    p.external_id,
    p.first_name,
    p.last_name,
    p.country,
    p.city,
    p.created_at,
    p.updated_at,
    p.last_event_at,
    coalesce(o.order_count, 0) as order_count,
    coalesce(o.revenue, 0) as revenue,
    o.first_order_at,
    o.last_order_at,
    coalesce(l.list_count, 0) as list_count,
    p.email_consent,
    -- Suppressed when either source says so: exclusions may be newer than the profile's
    -- row, the profile's own array covers a run without global_exclusions.
    (x.profile_id is not null or ps.profile_id is not null) as is_email_suppressed,
    coalesce(x.reasons, ps.reasons) as email_suppression_reasons,
    coalesce(x.suppressed_at, ps.suppressed_at) as email_suppressed_at,
    -- Klaviyo's own flag, unless a later suppression has come in since.
    case
        when x.profile_id is not null then false
        else p.can_receive_email_marketing
    end as can_receive_email_marketing,
    p.sms_consent,
    p.can_receive_sms_marketing
from profiles as p
left join orders as o
    on p.account_id = o.account_id
    and p.profile_id = o.profile_id
left join exclusions as x
    on p.account_id = x.account_id
    and p.profile_id = x.profile_id
left join profile_suppressions as ps
    on p.account_id = ps.account_id
    and p.profile_id = ps.profile_id
left join memberships as l
    on p.account_id = l.account_id
    and p.profile_id = l.profile_id
