{#- Post-hook of every staging model: nothing under dbt, where the apply_changes strategy never inserts a row
    whose _op is 'D'. SQLMesh's dbt loader does not run custom incremental strategies: it maps a model with a
    unique_key to its own merge on that key, which updates or inserts the change set's 'D' rows (keys whose
    tombstone wins) like any other. Deleting them afterwards leaves the table as apply_changes would: the
    current row of every key, deleted keys gone. SQLMesh sets the jinja global `sqlmesh`; dbt does not. -#}
{% macro delete_tombstoned_rows() -%}
    {%- if sqlmesh is defined and sqlmesh -%}
    delete from {{ this }} where _op = 'D'
    {%- endif -%}
{%- endmacro %}
