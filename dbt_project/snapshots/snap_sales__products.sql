{#- dbt-native SCD2 of products (full_sync, no cursor: check strategy on the business columns).
    A product missing from staging (deleted at the source) has its current version closed. -#}
{% snapshot snap_sales__products %}

{{
    config(
        unique_key='product_id',
        strategy='check',
        check_cols=['sku', 'product_name', 'category', 'unit_price', 'is_active'],
        hard_deletes='invalidate',
    )
}}

select * from {{ ref('stg_sales__products') }}

{% endsnapshot %}
