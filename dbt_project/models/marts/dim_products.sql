-- SCD Type 2 of products built from landing. products is extracted with full_sync (the whole table every
-- run, tombstones for removed keys), so a new version is a run whose row differs from the previous run's;
-- it is valid from that run's extraction (the first version from created_at) until the next change or delete.

with

landed as (

    select
        landed.*,
        {{ batch_run_id('landed._batch_id') }} as run_id
    from {{ ref('lnd_sales__products') }} as landed

),

-- one row per product per run (a run may span several files); a tombstone wins within its run
per_run as (

    select
        landed.*,
        row_number() over (
            partition by landed.product_id, landed.run_id
            order by case when landed._op = 'D' then 0 else 1 end, landed._extracted_at desc, landed._batch_id desc
        ) as run_rank
    from landed

),

hashed as (

    select
        per_run.*,
        {{ hash_key(['per_run._op', 'per_run.sku', 'per_run.name', 'per_run.category', 'per_run.unit_price', 'per_run.is_active', 'per_run.created_at']) }} as row_hash
    from per_run
    where per_run.run_rank = 1

),

changes as (

    select
        hashed.*,
        lag(hashed.row_hash) over (partition by hashed.product_id order by hashed.run_id) as previous_row_hash
    from hashed

),

events as (

    select
        changes.*,
        row_number() over (partition by changes.product_id order by changes.run_id) as event_number,
        lead(changes._extracted_at) over (partition by changes.product_id order by changes.run_id) as next_event_at,
        lead(changes._op) over (partition by changes.product_id order by changes.run_id) as next_op
    from changes
    where changes.previous_row_hash is null
        or changes.previous_row_hash <> changes.row_hash

),

history as (

    select
        events.product_id as product_id,
        events.sku as sku,
        events.name as product_name,
        events.category as category,
        events.unit_price as unit_price,
        (events.is_active = 1) as is_active,
        events.created_at as created_at,
        case
            when events.event_number = 1 then least(events.created_at, {{ utc_timestamp('events._extracted_at') }})
            else {{ utc_timestamp('events._extracted_at') }}
        end as valid_from,
        {{ utc_timestamp('events.next_event_at') }} as valid_to,
        (events.next_event_at is null) as is_current,
        coalesce(events.next_op = 'D', false) as is_deleted,
        events._batch_id as _batch_id
    from events
    where events._op = 'U'

),

keyed as (

    select
        {{ hash_key(['history.product_id', 'history.valid_from']) }} as product_sk,
        history.*
    from history

),

unknown_member as (

    select
        {{ unknown_member_sk() }} as product_sk,
        {{ var('unknown_member_id') }} as product_id,
        cast(null as {{ dbt.type_string() }}) as sku,
        'Unknown product' as product_name,
        'unknown' as category,
        cast(null as decimal(12, 2)) as unit_price,
        cast(null as boolean) as is_active,
        cast(null as timestamp) as created_at,
        cast('1900-01-01 00:00:00' as timestamp) as valid_from,
        cast(null as timestamp) as valid_to,
        true as is_current,
        false as is_deleted,
        cast(null as {{ dbt.type_string() }}) as _batch_id

)

select * from keyed
union all
select * from unknown_member
