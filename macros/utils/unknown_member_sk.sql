{#- Surrogate key of the unknown member every dimension carries, for facts whose dimension row is missing. -#}
{% macro unknown_member_sk() -%}
    '00000000000000000000000000000000'
{%- endmacro %}
