{{ config(unique_key=['order_id', 'line_no']) }}

with

source as (

    {{ changed_versions(ref('lnd_sales__order_items'), ['order_id', 'line_no']) }}

),

current_rows as (

    {{ current_rows('source', ['order_id', 'line_no'], ['updated_at', 'order_id', 'line_no'], keep_deleted=lake_is_incremental()) }}

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
        current_rows._batch_id as _batch_id,
        current_rows._landed_at as _landed_at,
        current_rows._current_op as _op
    from current_rows

)

select * from renamed
