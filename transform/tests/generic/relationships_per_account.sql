{#- Like dbt's relationships test, within an account: with several accounts unioned, an id
    is only a key together with its account_id. -#}
{% test relationships_per_account(model, column_name, to, field) %}
select child.account_id, child.{{ column_name }}
from {{ model }} as child
where
    child.{{ column_name }} is not null
    and not exists (
        select 1
        from {{ to }} as parent
        where parent.account_id = child.account_id and parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
