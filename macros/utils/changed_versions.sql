{#- The source of an incremental staging model: every landed version (upserts and tombstones) of the keys
    that have a version landed after the newest `_landed_at` the model holds — all of them on the first
    build or with --full-refresh. The current row of each such key is then recomputed from all its versions,
    so a late-arriving old version or a tombstone resolves exactly as a full rebuild would. -#}
{% macro changed_versions(landing, key_columns) -%}
    {%- if lake_is_incremental() and not relation_has_column(this, '_landed_at') -%}
        {{ exceptions.raise_compiler_error(
            this ~ " has no _landed_at column (built before staging was incremental, or the model does not select"
            ~ " current_rows._landed_at): select it, then rebuild once with `dbt build --full-refresh --select "
            ~ this.identifier ~ "`") }}
    {%- endif %}
    select versions.*
    from {{ landing }} as versions
    {%- if lake_is_incremental() %}
    where ({% for key in key_columns %}versions.{{ key }}{{ ", " if not loop.last }}{% endfor %}) in (
        select {% for key in key_columns %}changed.{{ key }}{{ ", " if not loop.last }}{% endfor %}
        from {{ landing }} as changed
        where changed._landed_at > (
            select coalesce(max(built._landed_at), cast('1900-01-01' as timestamp)) from {{ this }} as built
        )
    )
    {%- endif %}
{%- endmacro %}
