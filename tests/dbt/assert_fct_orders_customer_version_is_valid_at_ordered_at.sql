-- Every resolved customer_sk of fct_orders must be a version whose window contains ordered_at.

select
    orders.order_id,
    orders.ordered_at,
    customers.valid_from,
    customers.valid_to
from {{ ref('fct_orders') }} as orders
inner join {{ ref('dim_customers') }} as customers
    on customers.customer_sk = orders.customer_sk
where orders.customer_sk <> {{ unknown_member_sk() }}
    and (
        orders.ordered_at < customers.valid_from
        or (customers.valid_to is not null and orders.ordered_at >= customers.valid_to)
        or customers.customer_id <> orders.customer_id
    )
