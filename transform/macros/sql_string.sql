{#- A var's value as a SQL string literal: metric names are free text ("Placed Order",
    "Bestellung aufgegeben", "Customer's order"). -#}
{% macro sql_string(value) %}'{{ value | string | replace("'", "''") }}'{% endmacro %}
