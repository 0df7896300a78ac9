-- Segment growth per day (see macros/group_growth.sql).
{{ group_growth('segment') }}
