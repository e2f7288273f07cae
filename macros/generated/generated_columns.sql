{#- The business columns of a generated staging or history model: the source's columns (Parquet order), then
    any column the landing relation still has that the source no longer lists (a column dropped in MySQL stays,
    NULL from then on). Without columns in the source (sources generated without --discover), the landing
    relation's columns. Offline compilation sees only the source's. Under SQLMesh (which does not expose the
    graph here) the landing relation's columns, or none before it exists: the callers then select `* exclude`
    (DuckDB). -#}
{% macro generated_columns(source_name, table_name, landing) -%}
    {#- dt: the lake's hive partition (the extraction date), which read_parquet adds to landing: not data. -#}
    {%- set lineage = ['_extracted_at', '_batch_id', '_op', '_landed_at', 'dt'] -%}
    {%- set columns = generated_table_meta(source_name, table_name, [])['columns'] | list -%}
    {%- set introspect = landing is not string and landing.identifier and landing.schema -%}
    {%- if execute and var('assume_incremental', none) is none and introspect -%}
        {%- set existing = load_relation(landing) -%}
        {%- if existing is not none -%}
            {%- set known = columns | map('lower') | list -%}
            {%- for column in adapter.get_columns_in_relation(existing) -%}
                {%- if column.name | lower not in known and column.name | lower not in lineage -%}
                    {%- do columns.append(column.name) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {#- SQLMesh renders before the landing table exists (schema inference), a unit test's landing is a fixture:
        the models then select star. -#}
    {%- if execute and columns | length == 0 and not (sqlmesh is defined and sqlmesh) and introspect -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " lists no columns and " ~ landing ~ " is not built yet: run "
            ~ "`extractor dbt sources -p " ~ source_name ~ "` (it reads the columns from MySQL)") }}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}
