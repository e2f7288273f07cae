{{ config(pre_hook="{{ lake_prepare('sales', 'orders') }}") }}

-- Every extracted version of sales.orders, appended one batch at a time: a batch whose _batch_id is
-- already here is never read again, so re-running dbt build never duplicates.

{{ landing_batches('sales', 'orders') }}
