{#- Incremental strategy `apply_changes` (staging models): the build's relation holds the current row of
    every changed key, `_op` 'D' where the key's newest version is a tombstone. Every changed key is
    deleted from the target, then the rows that are not deletions are inserted: the target ends exactly
    as a full rebuild would leave it. dbt-core finds the strategy by this macro's name. -#}
{% macro get_incremental_apply_changes_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set changes = arg_dict["temp_relation"] -%}
    {%- set unique_key = arg_dict["unique_key"] -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy 'apply_changes' needs unique_key: set config(unique_key=[...]) on " ~ this) }}
    {%- endif -%}
    {%- if '_op' not in (arg_dict["dest_columns"] | map(attribute="name") | map("lower") | list) -%}
        {{ exceptions.raise_compiler_error(
            "incremental_strategy 'apply_changes' needs an _op column ('U', or 'D' for a deleted key) in " ~ target
            ~ ": select current_rows._current_op as _op, then rebuild once with --full-refresh") }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set key_list = keys | join(", ") -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ target }}
    where ({{ key_list }}) in (
        select {{ key_list }}
        from {{ changes }}
    );

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ changes }}
    where _op <> 'D'
{%- endmacro %}
