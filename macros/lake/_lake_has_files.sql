{#- Whether the read_parquet('<glob>', …) a DuckDB source renders to (meta.external_location) matches at
    least one file. A location of another form is assumed to have files: its own error then says why not.
    dbt only: duckdb__lake_relation does not call it under SQLMesh. -#}
{% macro _lake_has_files(relation) -%}
    {%- set location = relation.external or '' -%}
    {%- set parts = location.split("'") -%}
    {%- if parts | length < 3 or not location.startswith("read_parquet('" ~ parts[1] ~ "',") -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set found = run_query("select count(*) from glob('" ~ parts[1] ~ "')") -%}
    {#- none: no connection to ask (a loader that only parses the project) -#}
    {%- if found is none -%}{{ return(true) }}{%- endif -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
