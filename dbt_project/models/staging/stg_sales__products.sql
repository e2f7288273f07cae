-- products is extracted with full_sync: no cursor, so the latest run wins (then _batch_id).

with

source as (

    select * from {{ ref('lnd_sales__products') }}

),

current_rows as (

    {{ current_rows('source', ['product_id']) }}

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
        current_rows._batch_id as _batch_id
    from current_rows

)

select * from renamed
