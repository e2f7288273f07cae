{#- dbt-native SCD2 of products (full_sync, no cursor: check strategy on the business columns).
    A product missing from staging (deleted at the source) has its current version closed: the legacy flag
    invalidate_hard_deletes rather than hard_deletes='invalidate' (the same behaviour in dbt 1.11, which
    reads both) because SQLMesh's dbt loader reads only the legacy flag. -#}
{% snapshot snap_sales__products %}

{{
    config(
        unique_key='product_id',
        strategy='check',
        check_cols=['sku', 'name', 'category', 'unit_price', 'is_active'],
        invalidate_hard_deletes=true,
    )
}}

select * from {{ ref('stg_sales__products') }}

{% endsnapshot %}
