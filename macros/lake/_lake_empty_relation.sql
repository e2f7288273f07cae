{#- A relation with no rows and the columns of source <source_name>.<table_name> (declared by the generated
    sources file, data_type = Redshift type, which DuckDB reads but for VARBYTE), plus the hive partition
    column `dt` that read_parquet adds. Stands in for a lake table without files (duckdb__lake_relation). -#}
{% macro _lake_empty_relation(source_name, table_name) -%}
    {%- set node = _lake_source_node(source_name, table_name) -%}
    {%- set columns = node.columns.values() | list if node else [] -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " has no files in the lake and declares no columns: "
            ~ "regenerate the sources with `extractor dbt sources -p " ~ source_name ~ "` (it reads the columns "
            ~ "from MySQL), or extract the table first") }}
    {%- endif -%}
    {%- set selected = [] -%}
    {%- for column in columns -%}
        {%- set data_type = (column.data_type or 'varchar') | lower -%}
        {%- do selected.append('cast(null as ' ~ ('blob' if data_type.startswith('varbyte') else data_type) ~ ') as '
                               ~ adapter.quote(column.name)) -%}
    {%- endfor -%}
    {%- if 'dt' not in columns | map(attribute='name') | map('lower') | list -%}
        {%- do selected.append('cast(null as date) as dt') -%}
    {%- endif -%}
    (select {{ selected | join(', ') }} where false)
{%- endmacro %}
