{#- The `_landed_at` of the rows a landing build appends: the warehouse's clock at the start of the build's
    transaction, but always later than every `_landed_at` already landed, so it increases strictly per
    landing table even if the clock steps back. Staging reads only the keys landed after its newest
    `_landed_at` (changed_versions), which is exact because of that. -#}
{% macro landed_at() -%}
    {%- set now = adapter.dispatch('landed_at_now')() -%}
    {#- A landing table from before _landed_at existed gets the column (on_schema_change), NULL for old rows. -#}
    {%- if lake_is_incremental() and relation_has_column(this, '_landed_at') -%}
        greatest({{ now }}, (select {{ dbt.dateadd('microsecond', 1, 'max(landed._landed_at)') }} from {{ this }} as landed))
    {%- else -%}
        {{ now }}
    {%- endif -%}
{%- endmacro %}

{% macro default__landed_at_now() -%}
    {{ utc_timestamp('current_timestamp') }}
{%- endmacro %}

{#- current_timestamp is leader-node only on Redshift; sysdate is the transaction's start, in UTC unless
    the session's time zone is changed (landed_at's greatest() keeps the order even then). -#}
{% macro redshift__landed_at_now() -%}
    sysdate
{%- endmacro %}
