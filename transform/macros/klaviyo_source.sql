{#-
    One loaded table of every schema in klaviyo_schemas, unioned, with the columns given
    (a mapping of name to SQL type) and two more in front:

    * account_id: the tap's account_id column, or the schema's name where the tap was run
      without that setting, so the rows of several accounts stay apart;
    * source_schema: the schema the row was read from.

    Tables and columns may be missing. The tap creates a table only for a selected stream
    (reports and sizes are opt-in), a column only once a record has it, and a statistic of
    a report only when it is asked for. A missing column reads as null; a schema without
    the table adds no rows; with the table nowhere the result is empty but typed, so every
    model downstream still builds.

    Rows soft-deleted by target-postgres (_sdc_deleted_at, set when Klaviyo no longer
    returns them) are left out: staging describes the account as it is now.
-#}
{% macro klaviyo_source(table, columns) %}
    {%- set selects = [] -%}
    {#- Relations can only be looked up while running; at parse time the typed empty
        select stands in. -#}
    {%- if execute -%}
        {%- for schema in klaviyo_schemas() -%}
            {%- set relation = adapter.get_relation(
                database=target.database, schema=schema, identifier=table
            ) -%}
            {%- if relation is not none -%}
                {%- set present = {} -%}
                {%- for column in adapter.get_columns_in_relation(relation) -%}
                    {%- do present.update({column.name | lower: column}) -%}
                {%- endfor -%}
                {%- do selects.append(_klaviyo_select(relation, schema, columns, present)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if selects -%}
        {{ selects | join('\nunion all\n') }}
    {%- else -%}
        {{ _klaviyo_empty_select(columns) }}
    {%- endif -%}
{% endmacro %}


{% macro _klaviyo_select(relation, schema, columns, present) %}
select
    {% if 'account_id' in present -%}
    coalesce(cast(account_id as text), '{{ schema }}')
    {%- else -%}
    cast('{{ schema }}' as text)
    {%- endif %} as account_id,
    cast('{{ schema }}' as text) as source_schema
    {%- for name, type in columns.items() %},
    {{ _klaviyo_cast(name, type, present.get(name)) }} as {{ adapter.quote(name) }}
    {%- endfor %}
from {{ relation }}
{%- if '_sdc_deleted_at' in present %}
where _sdc_deleted_at is null
{%- endif %}
{% endmacro %}


{#- A date-time the schema did not know as one (the tap widens unexpected values to text)
    keeps its offset: cast to timestamp directly, PostgreSQL would drop it. -#}
{% macro _klaviyo_cast(name, type, column) %}
    {%- if column is none -%}
        cast(null as {{ type }})
    {%- elif type == 'timestamp' and column.is_string() -%}
        cast(cast({{ adapter.quote(name) }} as timestamptz) at time zone 'UTC' as timestamp)
    {%- else -%}
        cast({{ adapter.quote(name) }} as {{ type }})
    {%- endif -%}
{% endmacro %}


{% macro _klaviyo_empty_select(columns) %}
select
    cast(null as text) as account_id,
    cast(null as text) as source_schema
    {%- for name, type in columns.items() %},
    cast(null as {{ type }}) as {{ adapter.quote(name) }}
    {%- endfor %}
where false
{% endmacro %}
