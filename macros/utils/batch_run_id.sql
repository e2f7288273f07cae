{#- The extractor run a batch belongs to: _batch_id is <run_id>-<seq:05d>. -#}
{% macro batch_run_id(batch_id_column) -%}
    left({{ batch_id_column }}, length({{ batch_id_column }}) - 6)
{%- endmacro %}
