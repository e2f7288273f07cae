{#- What the landing models' pre-hooks run, per adapter: on Redshift the COPY staging DDL and the COPY of
    each schema version of each table's load plan (var lake_loads); on DuckDB nothing. `dbt compile --select lake_copy_statements`
    shows it, and tests/e2e/test_dbt_redshift_compile.py parses it. -#}
{% for table in ['customers', 'products', 'orders', 'order_items'] %}
{{ lake_prepare('sales', table, landing_relation=ref('lnd_sales__' ~ table)) }}
{% endfor %}
