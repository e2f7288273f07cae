{{ config(unique_key='customer_id') }}

with

source as (

    {{ changed_versions(ref('lnd_sales__customers'), ['customer_id']) }}

),

current_rows as (

    {{ current_rows('source', ['customer_id'], ['updated_at', 'customer_id'], keep_deleted=lake_is_incremental()) }}

),

renamed as (

    select
        current_rows.customer_id as customer_id,
        current_rows.email as email,
        current_rows.full_name as full_name,
        current_rows.tier as tier,
        current_rows.country_code as country_code,
        current_rows.city as city,
        current_rows.address as address,
        current_rows.created_at as created_at,
        current_rows.updated_at as updated_at,
        current_rows._extracted_at as _extracted_at,
        current_rows._batch_id as _batch_id,
        current_rows._landed_at as _landed_at,
        current_rows._current_op as _op
    from current_rows

)

select * from renamed
