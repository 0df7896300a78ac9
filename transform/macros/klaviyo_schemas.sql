{#-
    The schemas to read, one per Klaviyo account. The var comes from the command line as a
    list, or from the environment as a string: Meltano writes an array setting as JSON, a
    person more likely writes "a, b".
-#}
{% macro klaviyo_schemas() %}
    {%- set raw = var('klaviyo_schemas') -%}
    {%- if raw is string -%}
        {%- set text = raw | trim -%}
        {%- set raw = fromjson(text) if text.startswith('[') else text.split(',') -%}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for name in raw if name | trim and (name | trim) not in names -%}
        {%- do names.append(name | trim) -%}
    {%- endfor -%}
    {%- if not names -%}
        {{ exceptions.raise_compiler_error("The var klaviyo_schemas names no schema: give the schema (or schemas) the extractors load into.") }}
    {%- endif -%}
    {{ return(names) }}
{% endmacro %}
