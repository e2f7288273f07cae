{#- What an incremental build of each staging model runs once its change set is computed (strategy
    apply_changes: delete every changed key, insert the rows that are not deletions), per adapter.
    `dbt compile --select staging_apply_changes` shows it, and tests/e2e/test_dbt_redshift_compile.py
    parses it as Redshift SQL. -#}
{% for table in ['customers', 'products', 'orders', 'order_items'] %}
{%- set target = ref('stg_sales__' ~ table) -%}
{%- if execute -%}
{%- set node = graph.nodes['model.' ~ project_name ~ '.stg_sales__' ~ table] -%}
{{ get_incremental_apply_changes_sql({
    'target_relation': target,
    'temp_relation': target.incorporate(path={'identifier': target.identifier ~ '__dbt_tmp'}),
    'unique_key': node.config.unique_key,
    'dest_columns': node.columns.values() | list,
}) }};
{% endif %}
{% endfor %}
