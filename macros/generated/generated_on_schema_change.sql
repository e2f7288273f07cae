{#- on_schema_change of the generated landing and staging models. DuckDB: sync_all_columns — new columns are
    added and widened types widen (duckdb__alter_column_type); nothing is dropped, because landing reads every
    lake file with union_by_name (a dropped column stays) and staging selects landing's columns. Elsewhere
    (Redshift, whose landing is COPYed from the source's column list): append_new_columns, so a column dropped
    from the source never drops a warehouse column and its history. -#}
{% macro generated_on_schema_change() -%}
    {{ return('sync_all_columns' if target.type == 'duckdb' else 'append_new_columns') }}
{%- endmacro %}
