{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='order_id',
    )
}}

-- One row per order, merged on order_id. customer_sk is the dim_customers version valid at ordered_at, or
-- the unknown member; orders still pointing at the unknown member are re-resolved on every build, so a
-- late-arriving customer is picked up once it lands.

with

orders as (

    select * from {{ ref('stg_sales__orders') }} as staged
    {% if lake_is_incremental() %}
    where staged.updated_at > (select max(loaded.updated_at) from {{ this }} as loaded)
        or staged.order_id in (
            select unresolved.order_id
            from {{ this }} as unresolved
            where unresolved.customer_sk = {{ unknown_member_sk() }}
        )
    {% endif %}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

resolved as (

    select
        orders.order_id as order_id,
        coalesce(customers.customer_sk, {{ unknown_member_sk() }}) as customer_sk,
        orders.customer_id as customer_id,
        orders.status as status,
        orders.order_total as order_total,
        orders.currency as currency,
        orders.ordered_at as ordered_at,
        orders.updated_at as updated_at,
        orders._batch_id as _batch_id
    from orders
    left join customers
        on customers.customer_id = orders.customer_id
        and {{ scd2_valid_at('customers', 'orders.ordered_at') }}

)

select * from resolved
