{{ config(pre_hook="{{ lake_prepare('sales', 'order_items') }}") }}

-- Every extracted version of sales.order_items, appended one batch at a time: a batch whose _batch_id is
-- already here is never read again, so re-running dbt build never duplicates.

{{ landing_batches('sales', 'order_items') }}
