{#- dbt-native SCD2 of the current customer state at each build (timestamp strategy on the source cursor).
    dim_customers is built from every extracted version instead; see docs/warehouse.md. -#}
{% snapshot snap_sales__customers %}

{{
    config(
        unique_key='customer_id',
        strategy='timestamp',
        updated_at='updated_at',
    )
}}

select * from {{ ref('stg_sales__customers') }}

{% endsnapshot %}
