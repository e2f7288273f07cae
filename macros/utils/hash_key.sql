{#- Surrogate key: md5 of the columns cast to text, NULL-safe and separator-delimited (as dbt_utils'
    generate_surrogate_key), so the same values always give the same key on every adapter. -#}
{% macro hash_key(columns) -%}
    {{ return(adapter.dispatch('hash_key')(columns)) }}
{%- endmacro %}

{% macro default__hash_key(columns) -%}
    md5(
        {%- for column in columns %}
        coalesce(cast({{ column }} as {{ dbt.type_string() }}), '_null_'){{ " || '|' ||" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
