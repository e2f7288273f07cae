{#- What the generated models of one source table need: the key, the cursor and the strategy (passed by the
    generated model file, which `extractor dbt scaffold` writes from the pipeline YAML; else read from the
    source's meta) and the columns of the source in Parquet order (data_type = Redshift type), lineage columns
    left out. Columns are empty while dbt parses (the graph is filled only at execution), in unit tests, and under SQLMesh
    (whose graph is not read here; generated_columns then takes the landing relation's columns). -#}
{% macro generated_table_meta(source_name, table_name, key=none, cursor=none, strategy=none) -%}
    {%- set lineage = ['_extracted_at', '_batch_id', '_op', '_landed_at'] -%}
    {%- set found = {'key': key or [], 'cursor': cursor, 'strategy': strategy or 'hybrid', 'columns': [], 'types': {}} -%}
    {#- No graph to read: parsing, SQLMesh, and dbt unit tests (whose graph has no sources). -#}
    {%- if not execute or (sqlmesh is defined and sqlmesh) or not (graph.get('sources') if graph is mapping else none) -%}
        {{ return(found) }}
    {%- endif -%}
    {%- set node = _lake_source_node(source_name, table_name) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error(
            "no source " ~ source_name ~ "." ~ table_name ~ ": regenerate the sources with `extractor dbt sources -p "
            ~ source_name ~ "` (the table must be in config/pipelines/" ~ source_name ~ ".yml)") }}
    {%- endif -%}
    {%- if key is none -%}
        {%- set meta = (node.config.meta if node.config and node.config.meta else none) or node.meta or {} -%}
        {%- do found.update({
            'key': meta.get('unique_key') or meta.get('id_columns') or [],
            'cursor': meta.get('cursor_column'),
            'strategy': meta.get('cdc_strategy') or 'hybrid',
        }) -%}
    {%- endif -%}
    {%- for column in node.columns.values() if column.name | lower not in lineage -%}
        {%- do found.columns.append(column.name) -%}
        {%- do found.types.update({column.name | lower: (column.data_type or '') | upper}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
