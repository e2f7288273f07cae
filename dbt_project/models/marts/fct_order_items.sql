{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['order_id', 'line_no'],
    )
}}

-- One row per order line, merged on (order_id, line_no). product_sk is the dim_products version valid at
-- the order's ordered_at, or the unknown member (also while the order itself has not landed); unresolved
-- lines are re-resolved on every build.

with

{% if lake_is_incremental() %}
unresolved as (

    select
        loaded.order_id,
        loaded.line_no
    from {{ this }} as loaded
    where loaded.product_sk = {{ unknown_member_sk() }}
        or loaded.ordered_at is null

),
{% endif %}

order_items as (

    select staged.*
    from {{ ref('stg_sales__order_items') }} as staged
    {% if lake_is_incremental() %}
    left join unresolved
        on unresolved.order_id = staged.order_id
        and unresolved.line_no = staged.line_no
    where staged.updated_at > (select max(loaded.updated_at) from {{ this }} as loaded)
        or unresolved.order_id is not null
    {% endif %}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

resolved as (

    select
        order_items.order_id as order_id,
        order_items.line_no as line_no,
        coalesce(products.product_sk, {{ unknown_member_sk() }}) as product_sk,
        order_items.product_id as product_id,
        orders.ordered_at as ordered_at,
        order_items.quantity as quantity,
        order_items.unit_price as unit_price,
        order_items.discount as discount,
        cast(order_items.quantity * order_items.unit_price * (1 - order_items.discount) as decimal(18, 4)) as net_amount,
        order_items.updated_at as updated_at,
        order_items._batch_id as _batch_id
    from order_items
    left join orders
        on orders.order_id = order_items.order_id
    left join products
        on products.product_id = order_items.product_id
        and {{ scd2_valid_at('products', 'orders.ordered_at') }}

)

select * from resolved
