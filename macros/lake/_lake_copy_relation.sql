{#- The transient COPY staging table of a landing model (default: the current one): <schema>.<model>__copy. -#}
{% macro _lake_copy_relation(landing_relation=none) -%}
    {%- set landing = landing_relation if landing_relation is not none else this -%}
    {{ return(api.Relation.create(database=landing.database, schema=landing.schema, identifier=landing.identifier ~ '__copy', type='table')) }}
{%- endmacro %}
