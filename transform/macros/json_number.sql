{#- A number inside a JSON document, or null. Klaviyo takes event properties from the
    sender as they are, so `$value` may arrive as a string ("12.50") or as anything else. -#}
{% macro json_number(expression) %}
    case
        when jsonb_typeof({{ expression }}) = 'number'
            then cast({{ expression }} #>> '{}' as numeric)
        when jsonb_typeof({{ expression }}) = 'string'
            and trim({{ expression }} #>> '{}') ~ '^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'
            then cast(trim({{ expression }} #>> '{}') as numeric)
    end
{% endmacro %}
