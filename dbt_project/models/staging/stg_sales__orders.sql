with

source as (

    select * from {{ ref('lnd_sales__orders') }}

),

current_rows as (

    {{ current_rows('source', ['order_id'], ['updated_at', 'order_id']) }}

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
        current_rows._batch_id as _batch_id
    from current_rows

)

select * from renamed
