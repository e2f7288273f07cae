{#- Where a landing model reads the lake batches of one source table. -#}
{% macro lake_relation(source_name, table_name) -%}
    {{ return(adapter.dispatch('lake_relation')(source_name, table_name)) }}
{%- endmacro %}

{#- DuckDB (and anything reading files directly): the source renders as read_parquet(...) over the
    source-level meta.external_location, with union_by_name and hive_partitioning. -#}
{% macro default__lake_relation(source_name, table_name) -%}
    {{ return(source(source_name, table_name)) }}
{%- endmacro %}

{#- Redshift: the transient table the landing model's pre-hook (lake_prepare) COPYs the pending manifest
    into. source() is still called so that lineage and freshness keep pointing at the source. -#}
{% macro redshift__lake_relation(source_name, table_name) -%}
    {%- set _ = source(source_name, table_name) -%}
    {{ return(_lake_copy_relation()) }}
{%- endmacro %}

{#- DuckDB: as default__, except when the source's glob matches no file — a table never extracted yet, or
    one whose every file s3clean removed after the warehouse acknowledged it. read_parquet fails on zero
    files ("No files found"), so an empty relation with the source's declared columns stands in for it.
    Not under SQLMesh (jinja global `sqlmesh`): its loader renders models without a warehouse to ask. -#}
{% macro duckdb__lake_relation(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute or (sqlmesh is defined and sqlmesh) or _lake_has_files(relation) -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return(_lake_empty_relation(source_name, table_name)) }}
{%- endmacro %}
