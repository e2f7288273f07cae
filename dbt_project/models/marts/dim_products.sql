-- SCD Type 2 of products for the marts, on the generated history (hist_sales__products: products is
-- extracted with full_sync, so a version is a run whose row differs from the previous run's, valid from that
-- run's extraction until the next change or delete). Added here: business names (product_name, a boolean
-- is_active), the first version valid from created_at, and an unknown member.

with

history as (

    select * from {{ ref('hist_sales__products') }}

),

versions as (

    select
        history.*,
        case
            when history.version_number = 1 then least(history.created_at, history.valid_from)
            else history.valid_from
        end as product_valid_from
    from history

),

dimension as (

    select
        {{ hash_key(['versions.product_id', 'versions.product_valid_from']) }} as product_sk,
        versions.product_id as product_id,
        versions.sku as sku,
        versions.name as product_name,
        versions.category as category,
        versions.unit_price as unit_price,
        (versions.is_active = 1) as is_active,
        versions.created_at as created_at,
        versions.product_valid_from as valid_from,
        versions.valid_to as valid_to,
        versions.is_current as is_current,
        versions.is_deleted as is_deleted,
        versions._batch_id as _batch_id
    from versions

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

select * from dimension
union all
select * from unknown_member
