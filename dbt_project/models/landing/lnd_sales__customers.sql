{{ config(pre_hook="{{ lake_prepare('sales', 'customers') }}") }}

-- Every extracted version of sales.customers, appended one batch at a time: a batch whose _batch_id is
-- already here is never read again, so re-running dbt build never duplicates.

with

batches as (

    select * from {{ lake_relation('sales', 'customers') }}

)

select *
from batches
{% if lake_is_incremental() %}
where batches._batch_id not in (
    select landed._batch_id from {{ this }} as landed
)
{% endif %}
