{#- Private: generated_history for run tables, full_sync and id (see generated_history). -#}
{% macro generated_history_by_run(meta, key, columns, partition, landing) -%}
    {%- set hashed_columns = ['per_run._op'] -%}
    {%- for c in columns %}{% do hashed_columns.append('per_run.' ~ generated_ident(c)) %}{% else %}{% do hashed_columns.append('per_run._batch_id') %}{% endfor -%}
    {%- set sk_columns = [] -%}
    {%- for k in key %}{% do sk_columns.append('history.' ~ k) %}{% endfor -%}
    {%- do sk_columns.append('history._valid_from') -%}
with

landed as (

    select
        landed.*,
        {{ batch_run_id('landed._batch_id') }} as _run_id
    from {{ landing }} as landed

),

-- one row per key per run (a run may span several files); a tombstone wins within its run
per_run as (

    select
        landed.*,
        row_number() over (
            partition by {% for k in key %}landed.{{ k }}, {% endfor %}landed._run_id
            order by case when landed._op = 'D' then 0 else 1 end, landed._extracted_at desc, landed._batch_id desc
        ) as _run_rank
    from landed

),

hashed as (

    select
        per_run.*,
        {{ hash_key(hashed_columns) }} as _row_hash
    from per_run
    where per_run._run_rank = 1

),

changes as (

    select
        hashed.*,
        lag(hashed._row_hash) over (partition by {% for k in key %}hashed.{{ k }}{{ ", " if not loop.last }}{% endfor %} order by hashed._run_id) as _previous_row_hash
    from hashed

),

events as (

    select
        changes.*,
        lead(changes._extracted_at) over (partition by {% for k in key %}changes.{{ k }}{{ ", " if not loop.last }}{% endfor %} order by changes._run_id) as _next_event_at,
        lead(changes._op) over (partition by {% for k in key %}changes.{{ k }}{{ ", " if not loop.last }}{% endfor %} order by changes._run_id) as _next_op
    from changes
    where changes._previous_row_hash is null
        or changes._previous_row_hash <> changes._row_hash

),

history as (

    select
        events.*,
        {{ utc_timestamp('events._extracted_at') }} as _valid_from,
        row_number() over (partition by {% for k in key %}events.{{ k }}{{ ", " if not loop.last }}{% endfor %} order by events._run_id) as _version_number
    from events
    where events._op = 'U'

)

select
    {{ hash_key(sk_columns) }} as version_sk,
    {%- for column in columns %}
    history.{{ generated_ident(column) }} as {{ generated_ident(column) }},
    {%- else %}
    history.* exclude (_run_id, _run_rank, _row_hash, _previous_row_hash, _next_event_at, _next_op, _valid_from, _version_number, _extracted_at, _batch_id, _op, _landed_at),
    {%- endfor %}
    history._valid_from as valid_from,
    {{ utc_timestamp('history._next_event_at') }} as valid_to,
    (history._next_event_at is null) as is_current,
    coalesce(history._next_op = 'D', false) as is_deleted,
    history._version_number as version_number,
    history._extracted_at as _extracted_at,
    history._batch_id as _batch_id
from history
{%- endmacro %}
