with

source as (

    select * from {{ ref('lnd_sales__order_items') }}

),

current_rows as (

    {{ current_rows('source', ['order_id', 'line_no'], ['updated_at', 'order_id', 'line_no']) }}

),

renamed as (

    select
        current_rows.order_id as order_id,
        current_rows.line_no as line_no,
        current_rows.product_id as product_id,
        current_rows.quantity as quantity,
        current_rows.unit_price as unit_price,
        current_rows.discount as discount,
        current_rows.updated_at as updated_at,
        current_rows._extracted_at as _extracted_at,
        current_rows._batch_id as _batch_id
    from current_rows

)

select * from renamed
