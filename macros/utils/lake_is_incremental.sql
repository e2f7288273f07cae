{#- is_incremental(), answerable offline: var assume_incremental (true/false) wins when set, so that
    `dbt compile --no-introspect` can render both branches without a warehouse. -#}
{% macro lake_is_incremental() -%}
    {%- set assumed = var('assume_incremental', none) -%}
    {%- if assumed is not none -%}
        {{ return(assumed in [true, 'true', 'True', 1, '1'] and model.config.materialized == 'incremental') }}
    {%- endif -%}
    {{ return(is_incremental()) }}
{%- endmacro %}
