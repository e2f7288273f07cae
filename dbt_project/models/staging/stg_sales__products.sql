{{ config(unique_key='product_id') }}

-- products is extracted with full_sync: no cursor, so the latest run wins (then _batch_id).

with

source as (

    {{ changed_versions(ref('lnd_sales__products'), ['product_id']) }}

),

current_rows as (

    {{ current_rows('source', ['product_id'], keep_deleted=lake_is_incremental()) }}

),

renamed as (

    select
        current_rows.product_id as product_id,
        current_rows.sku as sku,
        current_rows.name as product_name,
        current_rows.category as category,
        current_rows.unit_price as unit_price,
        (current_rows.is_active = 1) as is_active,
        current_rows.created_at as created_at,
        current_rows._extracted_at as _extracted_at,
        current_rows._batch_id as _batch_id,
        current_rows._landed_at as _landed_at,
        current_rows._current_op as _op
    from current_rows

)

select * from renamed
