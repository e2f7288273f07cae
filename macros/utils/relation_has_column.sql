{#- Whether `relation` has column `name` (case-insensitive); true where there is nothing to look at:
    offline compilation (var assume_incremental set), a unit test's fixture (a CTE name, not a relation), or
    a relation not built yet. -#}
{% macro relation_has_column(relation, name) -%}
    {%- if not execute or var('assume_incremental', none) is not none or relation is string -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set existing = load_relation(relation) -%}
    {%- if existing is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
    {{ return(name | lower in columns) }}
{%- endmacro %}
