{#- What the generated models of one source table need, from its source node: the key (id_columns, or
    unique_key), the cursor, the strategy and the columns in Parquet order (data_type = Redshift type),
    lineage columns left out. Empty while dbt parses (the graph is filled only at execution). -#}
{% macro generated_table_meta(source_name, table_name) -%}
    {%- set lineage = ['_extracted_at', '_batch_id', '_op', '_landed_at'] -%}
    {%- set found = {'key': [], 'cursor': none, 'strategy': 'hybrid', 'columns': [], 'types': {}} -%}
    {%- if not execute -%}{{ return(found) }}{%- endif -%}
    {%- set node = _lake_source_node(source_name, table_name) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error(
            "no source " ~ source_name ~ "." ~ table_name ~ ": regenerate the sources with `extractor dbt sources -p "
            ~ source_name ~ "` (the table must be in config/pipelines/" ~ source_name ~ ".yml)") }}
    {%- endif -%}
    {%- set meta = (node.config.meta if node.config and node.config.meta else none) or node.meta or {} -%}
    {%- do found.update({
        'key': meta.get('unique_key') or meta.get('id_columns') or [],
        'cursor': meta.get('cursor_column'),
        'strategy': meta.get('cdc_strategy') or 'hybrid',
    }) -%}
    {%- for column in node.columns.values() if column.name | lower not in lineage -%}
        {%- do found.columns.append(column.name) -%}
        {%- do found.types.update({column.name | lower: (column.data_type or '') | upper}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
