{#- A column name as SQL: bare when it is a plain lower-case identifier, else quoted by the adapter. -#}
{% macro generated_ident(name) -%}
    {%- if modules.re.match('^[a-z_][a-z0-9_]*$', name) -%}{{ name }}{%- else -%}{{ adapter.quote(name) }}{%- endif -%}
{%- endmacro %}
