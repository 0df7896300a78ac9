{#-
    Growth of a list or a segment per day: members who joined that day (from the members'
    join dates, days in the account's timezone) and the size of the group. The size is the
    snapshot of list_sizes / segment_sizes where one was taken that day (the opt-in streams
    of profile_count), else the members who joined by then. A member who left is no
    longer in list_members, so the second is a floor for past days.
-#}
{% macro group_growth(kind) %}
with groups as (
    select account_id, {{ kind }}_id, {{ kind }}_name
    from {{ ref('stg_klaviyo__' ~ kind ~ 's') }}
),

timezones as (
    {{ account_timezones() }}
),

joins as (
    select
        m.account_id,
        m.{{ kind }}_id,
        {{ account_date('m.joined_at', 'tz.timezone') }}
            as date,
        count(*) as members_joined
    from {{ ref('stg_klaviyo__' ~ kind ~ '_members') }} as m
    left join timezones as tz
        on m.account_id = tz.account_id
    where m.joined_at is not null
    group by 1, 2, 3
),

-- A day keeps its latest snapshot.
snapshots as (
    select distinct on (account_id, {{ kind }}_id, snapshot_date)
        account_id,
        {{ kind }}_id,
        snapshot_date as date,
        profile_count
    from {{ ref('stg_klaviyo__' ~ kind ~ '_sizes') }}
    order by account_id, {{ kind }}_id, snapshot_date, observed_at desc
),

days as (
    select account_id, {{ kind }}_id, date from joins
    union
    select account_id, {{ kind }}_id, date from snapshots
),

growth as (
    select
        d.account_id,
        d.{{ kind }}_id,
        d.date,
        coalesce(j.members_joined, 0) as members_joined,
        sum(coalesce(j.members_joined, 0)) over (
            partition by d.account_id, d.{{ kind }}_id
            order by d.date
            rows between unbounded preceding and current row
        ) as members_cumulative,
        s.profile_count as snapshot_profile_count
    from days as d
    left join joins as j
        on d.account_id = j.account_id
        and d.{{ kind }}_id = j.{{ kind }}_id
        and d.date = j.date
    left join snapshots as s
        on d.account_id = s.account_id
        and d.{{ kind }}_id = s.{{ kind }}_id
        and d.date = s.date
)

select
    g.account_id,
    g.{{ kind }}_id,
    groups.{{ kind }}_name,
    g.date,
    g.members_joined,
    g.members_cumulative,
    g.snapshot_profile_count,
    coalesce(g.snapshot_profile_count, g.members_cumulative) as profile_count,
    case when g.snapshot_profile_count is null then 'members' else 'snapshot' end
        as profile_count_source
from growth as g
left join groups
    on g.account_id = groups.account_id
    and g.{{ kind }}_id = groups.{{ kind }}_id
{% endmacro %}
