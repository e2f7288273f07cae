{#- The body of every landing model: the table's lake batches whose _batch_id is not landed yet, stamped
    with the build's `_landed_at` (see landed_at). On Redshift landing ignores --full-refresh
    (full_refresh: false): its input is only the batches of this build's load plan, so a rebuild from it
    would drop every batch landed before; `extractor run --skip-extract --backfill` reloads the whole lake. -#}
{% macro landing_batches(source_name, table_name) -%}
{%- if target.type == 'redshift' -%}{{ config(full_refresh=false) }}{%- endif -%}
with

batches as (

    select * from {{ lake_relation(source_name, table_name) }}

)

select
    batches.*,
    {{ landed_at() }} as _landed_at
from batches
{% if lake_is_incremental() %}
where batches._batch_id not in (
    select landed._batch_id from {{ this }} as landed
)
{% endif %}
{%- endmacro %}
