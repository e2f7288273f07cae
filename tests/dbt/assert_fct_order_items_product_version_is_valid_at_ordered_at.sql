-- Every resolved product_sk of fct_order_items must be a version whose window contains the order's ordered_at.

select
    items.order_id,
    items.line_no,
    items.ordered_at,
    products.valid_from,
    products.valid_to
from {{ ref('fct_order_items') }} as items
inner join {{ ref('dim_products') }} as products
    on products.product_sk = items.product_sk
where items.product_sk <> {{ unknown_member_sk() }}
    and (
        items.ordered_at < products.valid_from
        or (products.valid_to is not null and items.ordered_at >= products.valid_to)
        or products.product_id <> items.product_id
    )
