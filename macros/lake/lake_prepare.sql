{#- Pre-hook of every landing model: makes lake_relation() readable. Nothing to do where the lake is
    read in place (DuckDB); on Redshift, (re)creates the COPY staging table in Parquet column order (the
    source's columns and their data_type) and loads the table's pending manifest from var lake_manifests.
    landing_relation defaults to the model being built (`this`). -#}
{% macro lake_prepare(source_name, table_name, landing_relation=none) -%}
    {{ return(adapter.dispatch('lake_prepare')(source_name, table_name, landing_relation)) }}
{%- endmacro %}

{#- Nothing to prepare: an empty hook is skipped by dbt. -#}
{% macro default__lake_prepare(source_name, table_name, landing_relation=none) -%}
{%- endmacro %}

{% macro redshift__lake_prepare(source_name, table_name, landing_relation=none) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set node = _lake_source_node(source_name, table_name) -%}
    {%- set copy_relation = _lake_copy_relation(landing_relation) -%}
    {%- set columns = node.columns.values() | list if node else [] -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " has no columns with data_type: regenerate the sources "
            ~ "with extractor.dbt.write_sources(..., columns=...) so the COPY staging DDL is known") }}
    {%- endif -%}
    {%- set manifest = var('lake_manifests', {}).get(source_name, {}).get(table_name) -%}
    drop table if exists {{ copy_relation }};
    create table {{ copy_relation }} (
        {%- for column in columns %}
        {{ adapter.quote(column.name) }} {{ column.data_type }}{{ "," if not loop.last }}
        {%- endfor %}
    );
    {%- if manifest %}
    copy {{ copy_relation }}
    from '{{ manifest }}'
    iam_role '{{ var("redshift_iam_role") }}'
    format as parquet
    manifest;
    {%- endif %}
{%- endmacro %}
