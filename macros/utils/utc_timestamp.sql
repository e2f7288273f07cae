{#- A timestamp-with-time-zone expression as a naive UTC timestamp (the project's timestamp convention). -#}
{% macro utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('utc_timestamp')(expression)) }}
{%- endmacro %}

{% macro default__utc_timestamp(expression) -%}
    cast(({{ expression }}) at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro redshift__utc_timestamp(expression) -%}
    convert_timezone('UTC', {{ expression }})::timestamp
{%- endmacro %}
