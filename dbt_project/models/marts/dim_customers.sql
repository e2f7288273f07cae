-- SCD Type 2 of customers for the marts, on the generated history (hist_sales__customers: one version per
-- distinct (customer_id, updated_at) from every extracted version, valid until the next version or a newer
-- delete tombstone). Added here: tier rank and country name, the first version valid from created_at (an
-- order placed before the customer's first extracted update still finds it), and an unknown member.

with

history as (

    select * from {{ ref('hist_sales__customers') }}

),

tiers as (

    select * from {{ ref('customer_tiers') }}

),

countries as (

    select * from {{ ref('countries') }}

),

versions as (

    select
        history.*,
        case
            when history.version_number = 1 then least(history.created_at, history.valid_from)
            else history.valid_from
        end as customer_valid_from
    from history

),

dimension as (

    select
        {{ hash_key(['versions.customer_id', 'versions.customer_valid_from']) }} as customer_sk,
        versions.customer_id as customer_id,
        versions.email as email,
        versions.full_name as full_name,
        versions.tier as tier,
        tiers.tier_rank as tier_rank,
        versions.country_code as country_code,
        countries.country_name as country_name,
        versions.city as city,
        versions.address as address,
        versions.created_at as created_at,
        versions.updated_at as updated_at,
        versions.customer_valid_from as valid_from,
        versions.valid_to as valid_to,
        versions.is_current as is_current,
        versions.is_deleted as is_deleted,
        versions._batch_id as _batch_id
    from versions
    left join tiers
        on tiers.tier = versions.tier
    left join countries
        on countries.country_code = versions.country_code

),

unknown_member as (

    select
        {{ unknown_member_sk() }} as customer_sk,
        {{ var('unknown_member_id') }} as customer_id,
        cast(null as {{ dbt.type_string() }}) as email,
        'Unknown customer' as full_name,
        'unknown' as tier,
        cast(null as integer) as tier_rank,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as country_name,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as address,
        cast(null as timestamp) as created_at,
        cast(null as timestamp) as updated_at,
        cast('1900-01-01 00:00:00' as timestamp) as valid_from,
        cast(null as timestamp) as valid_to,
        true as is_current,
        false as is_deleted,
        cast(null as {{ dbt.type_string() }}) as _batch_id

)

select * from dimension
union all
select * from unknown_member
