{{ config(pre_hook="{{ lake_prepare('sales', 'products') }}") }}

-- Every extracted version of sales.products, appended one batch at a time: a batch whose _batch_id is
-- already here is never read again, so re-running dbt build never duplicates.

{{ landing_batches('sales', 'products') }}
