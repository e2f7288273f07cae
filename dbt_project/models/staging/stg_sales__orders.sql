{{ config(unique_key='order_id') }}

with

source as (

    {{ changed_versions(ref('lnd_sales__orders'), ['order_id']) }}

),

current_rows as (

    {{ current_rows('source', ['order_id'], ['updated_at', 'order_id'], keep_deleted=lake_is_incremental()) }}

),

renamed as (

    select
        current_rows.order_id as order_id,
        current_rows.customer_id as customer_id,
        current_rows.status as status,
        current_rows.order_total as order_total,
        current_rows.currency as currency,
        current_rows.ordered_at as ordered_at,
        current_rows.updated_at as updated_at,
        current_rows._extracted_at as _extracted_at,
        current_rows._batch_id as _batch_id,
        current_rows._landed_at as _landed_at,
        current_rows._current_op as _op
    from current_rows

)

select * from renamed
