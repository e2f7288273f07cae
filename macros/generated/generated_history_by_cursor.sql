{#- Private: generated_history for cursor tables (see generated_history). -#}
{% macro generated_history_by_cursor(meta, key, columns, partition, landing) -%}
    {%- set sk_columns = [] -%}
    {%- for k in key %}{% do sk_columns.append('windowed.' ~ k) %}{% endfor -%}
    {%- do sk_columns.append('windowed._valid_from') -%}
    {%- set cursor = meta['cursor'] | lower -%}
    {%- set cursor_type = meta['types'].get(cursor, '') -%}
    {%- set valid_from = utc_timestamp('sequenced.' ~ cursor) if cursor_type.startswith('TIMESTAMPTZ') else 'cast(sequenced.' ~ cursor ~ ' as timestamp)' -%}
with

versions as (

    select
        landed.*,
        row_number() over (
            partition by {% for k in key %}landed.{{ k }}, {% endfor %}landed.{{ cursor }}
            order by landed._extracted_at desc, landed._batch_id desc
        ) as _landing_rank
    from {{ landing }} as landed
    where landed._op = 'U'
        and landed.{{ cursor }} is not null

),

deletions as (

    select
        {% for k in key %}landed.{{ k }}, {% endfor %}
        landed._extracted_at,
        landed._batch_id,
        row_number() over (
            partition by {% for k in key %}landed.{{ k }}{{ ", " if not loop.last }}{% endfor %}
            order by landed._extracted_at desc, landed._batch_id desc
        ) as _deletion_rank
    from {{ landing }} as landed
    where landed._op = 'D'

),

sequenced as (

    select
        versions.*,
        row_number() over (partition by {% for k in key %}versions.{{ k }}{{ ", " if not loop.last }}{% endfor %} order by versions.{{ cursor }}) as _version_number,
        lead(versions.{{ cursor }}) over (partition by {% for k in key %}versions.{{ k }}{{ ", " if not loop.last }}{% endfor %} order by versions.{{ cursor }}) as _next_cursor
    from versions
    where versions._landing_rank = 1

),

windowed as (

    select
        sequenced.*,
        {{ valid_from }} as _valid_from,
        {{ valid_from | replace('sequenced.' ~ cursor, 'sequenced._next_cursor') }} as _next_valid_from,
        (
            sequenced._next_cursor is null
            and deletions._batch_id is not null
            and (
                deletions._extracted_at > sequenced._extracted_at
                or (deletions._extracted_at = sequenced._extracted_at and deletions._batch_id >= sequenced._batch_id)
            )
        ) as _is_deleted,
        {{ utc_timestamp('deletions._extracted_at') }} as _deleted_at
    from sequenced
    left join deletions
        on {% for k in key %}deletions.{{ k }} = sequenced.{{ k }} and {% endfor %}deletions._deletion_rank = 1

)

select
    {{ hash_key(sk_columns) }} as version_sk,
    {%- for column in columns %}
    windowed.{{ generated_ident(column) }} as {{ generated_ident(column) }},
    {%- else %}
    windowed.* exclude (_landing_rank, _version_number, _next_cursor, _valid_from, _next_valid_from, _is_deleted, _deleted_at, _extracted_at, _batch_id, _op, _landed_at),
    {%- endfor %}
    windowed._valid_from as valid_from,
    case
        when windowed._next_cursor is not null then windowed._next_valid_from
        when windowed._is_deleted then greatest(windowed._deleted_at, windowed._valid_from)
    end as valid_to,
    (windowed._next_cursor is null and not windowed._is_deleted) as is_current,
    windowed._is_deleted as is_deleted,
    windowed._version_number as version_number,
    windowed._extracted_at as _extracted_at,
    windowed._batch_id as _batch_id
from windowed
{%- endmacro %}
