-- SCD Type 2 of customers built from every extracted version in landing (not from snapshots, which only
-- see the state at each build): one row per distinct (customer_id, updated_at), valid from its updated_at
-- (the first version from created_at) until the next version, or until a newer delete tombstone.

with

landed as (

    select * from {{ ref('lnd_sales__customers') }}

),

tiers as (

    select * from {{ ref('customer_tiers') }}

),

countries as (

    select * from {{ ref('countries') }}

),

-- the same version landed in several batches (crash windows) counts once: the latest landing wins
versions as (

    select
        landed.*,
        row_number() over (
            partition by landed.customer_id, landed.updated_at
            order by landed._extracted_at desc, landed._batch_id desc
        ) as landing_rank
    from landed
    where landed._op = 'U'

),

deletions as (

    select
        landed.customer_id,
        landed._extracted_at,
        landed._batch_id,
        row_number() over (
            partition by landed.customer_id
            order by landed._extracted_at desc, landed._batch_id desc
        ) as deletion_rank
    from landed
    where landed._op = 'D'

),

sequenced as (

    select
        versions.*,
        row_number() over (partition by versions.customer_id order by versions.updated_at) as version_number,
        lead(versions.updated_at) over (partition by versions.customer_id order by versions.updated_at) as next_updated_at
    from versions
    where versions.landing_rank = 1

),

windowed as (

    select
        sequenced.*,
        case
            when sequenced.version_number = 1 then least(sequenced.created_at, sequenced.updated_at)
            else sequenced.updated_at
        end as valid_from,
        (
            sequenced.next_updated_at is null
            and deletions.customer_id is not null
            and (
                deletions._extracted_at > sequenced._extracted_at
                or (deletions._extracted_at = sequenced._extracted_at and deletions._batch_id >= sequenced._batch_id)
            )
        ) as is_deleted,
        {{ utc_timestamp('deletions._extracted_at') }} as deleted_at
    from sequenced
    left join deletions
        on deletions.customer_id = sequenced.customer_id
        and deletions.deletion_rank = 1

),

history as (

    select
        {{ hash_key(['windowed.customer_id', 'windowed.valid_from']) }} as customer_sk,
        windowed.customer_id as customer_id,
        windowed.email as email,
        windowed.full_name as full_name,
        windowed.tier as tier,
        tiers.tier_rank as tier_rank,
        windowed.country_code as country_code,
        countries.country_name as country_name,
        windowed.city as city,
        windowed.address as address,
        windowed.created_at as created_at,
        windowed.updated_at as updated_at,
        windowed.valid_from as valid_from,
        case
            when windowed.next_updated_at is not null then windowed.next_updated_at
            when windowed.is_deleted then greatest(windowed.deleted_at, windowed.valid_from)
        end as valid_to,
        (windowed.next_updated_at is null and not windowed.is_deleted) as is_current,
        windowed.is_deleted as is_deleted,
        windowed._batch_id as _batch_id
    from windowed
    left join tiers
        on tiers.tier = windowed.tier
    left join countries
        on countries.country_code = windowed.country_code

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

select * from history
union all
select * from unknown_member
