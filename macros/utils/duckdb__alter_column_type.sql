{#- DuckDB override of dbt's alter_column_type (used by on_schema_change: sync_all_columns when a MySQL column
    is widened, e.g. INT → BIGINT, DECIMAL(10,2) → DECIMAL(14,2)): one native ALTER … SET DATA TYPE, which keeps
    the column's position and its values. dbt's default (add a temp column, copy, drop, rename) leaves DuckDB
    with "another transaction has altered this table" when the incremental insert follows. -#}
{% macro duckdb__alter_column_type(relation, column_name, new_column_type) -%}
    {% call statement('alter_column_type') %}
        alter table {{ relation.render() }} alter column {{ adapter.quote(column_name) }} set data type {{ new_column_type }}
    {% endcall %}
{%- endmacro %}
