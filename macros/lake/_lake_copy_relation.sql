{#- The COPY staging table a landing model reads on Redshift: a session temporary table named
    <landing model><suffix> (default `__copy`), never a permanent one, so no second copy of the data outlives
    the build's connection. Temporary tables take no schema, hence identifier only. -#}
{% macro _lake_copy_relation(landing_relation=none, suffix='__copy') -%}
    {%- set landing = landing_relation if landing_relation is not none else this -%}
    {{ return(api.Relation.create(identifier=landing.identifier ~ suffix, type='table')) }}
{%- endmacro %}
