{#- The current row per key of a landing relation (every extracted version, _op U/D): the latest upsert by
    (order_columns…, _extracted_at, _batch_id), dropped when a tombstone from the same or a later batch
    exists. Returns a select over `relation` (a CTE name or relation) with two added columns, _version_rank
    and _current_op ('U'). keep_deleted keeps the keys whose tombstone wins, as their latest upsert with
    _current_op 'D' (what an incremental staging build hands the apply_changes strategy). -#}
{% macro current_rows(relation, key_columns, order_columns=[], keep_deleted=false) -%}
    select resolved.*
    from (
        select
            upserts.*,
            case
                when deletions._batch_id is null
                    or deletions._extracted_at < upserts._extracted_at
                    or (deletions._extracted_at = upserts._extracted_at and deletions._batch_id < upserts._batch_id)
                then 'U'
                else 'D'
            end as _current_op
        from (
            select
                versions.*,
                row_number() over (
                    partition by {% for key in key_columns %}versions.{{ key }}{{ ", " if not loop.last }}{% endfor %}
                    order by
                        {%- for column in order_columns %}
                        versions.{{ column }} desc nulls last,
                        {%- endfor %}
                        versions._extracted_at desc,
                        versions._batch_id desc
                ) as _version_rank
            from {{ relation }} as versions
            where versions._op = 'U'
        ) as upserts
        left join (
            select
                tombstones.*,
                row_number() over (
                    partition by {% for key in key_columns %}tombstones.{{ key }}{{ ", " if not loop.last }}{% endfor %}
                    order by tombstones._extracted_at desc, tombstones._batch_id desc
                ) as _tombstone_rank
            from {{ relation }} as tombstones
            where tombstones._op = 'D'
        ) as deletions
            on {% for key in key_columns %}deletions.{{ key }} = upserts.{{ key }}{{ " and " if not loop.last }}{% endfor %}
            and deletions._tombstone_rank = 1
        where upserts._version_rank = 1
    ) as resolved
    {%- if not keep_deleted %}
    where resolved._current_op = 'U'
    {%- endif %}
{%- endmacro %}
