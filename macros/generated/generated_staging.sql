{#- The body of a generated staging model: the current row per key of `landing` (latest by cursor, then key,
    then _extracted_at/_batch_id; full_sync and id tables by _extracted_at/_batch_id), deletes removed, kept
    incrementally (changed_versions + apply_changes). Columns come from the source (generated_columns), so a
    column added in MySQL needs no edit here: the model's on_schema_change adds it. -#}
{% macro generated_staging(source_name, table_name, landing, key=none, cursor=none, strategy=none) -%}
    {%- set meta = generated_table_meta(source_name, table_name, key, cursor, strategy) -%}
    {%- if not execute -%}
    select * from {{ landing }}
    {%- else -%}
    {%- set key = meta['key'] | list -%}
    {%- if key | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " has no id_columns: set them in config/pipelines/"
            ~ source_name ~ ".yml and run `extractor dbt sources -p " ~ source_name ~ "`") }}
    {%- endif -%}
    {%- set order = ([meta['cursor']] + key) if meta['cursor'] and meta['strategy'] in ['hybrid', 'timestamp'] else [] -%}
with

source as (

    {{ changed_versions(landing, key | map('lower') | list) }}

),

current_rows as (

    {{ current_rows('source', key | map('lower') | list, order | map('lower') | list, keep_deleted=lake_is_incremental()) }}

)

select
    {%- for column in generated_columns(source_name, table_name, landing) %}
    current_rows.{{ generated_ident(column) }} as {{ generated_ident(column) }},
    {%- else %}
    current_rows.* exclude (_version_rank, _current_op, _extracted_at, _batch_id, _landed_at, _op),
    {%- endfor %}
    current_rows._extracted_at as _extracted_at,
    current_rows._batch_id as _batch_id,
    current_rows._landed_at as _landed_at,
    current_rows._current_op as _op
from current_rows
    {%- endif -%}
{%- endmacro %}
