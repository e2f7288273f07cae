{#- The body of a generated SCD Type 2 history model (table_type: dimension), built from every landed
    version in `landing`, not from snapshots (which see only the state at each build):

    - cursor tables (hybrid, timestamp): a version per distinct (key, cursor); one landed several times (crash
      windows) counts once. Valid from its cursor until the next version's cursor; the last version is closed
      by a newer delete tombstone (valid_to = the tombstone's extraction, is_deleted). Versions with a NULL
      cursor are left out (they cannot be placed in time).
    - run tables (full_sync, id): a version per run whose row differs from the key's previous run (row hash over
      every column and _op); valid from that run's extraction until the next change, is_deleted when the
      change that closes it is a tombstone.

    Columns: version_sk (hash of key and valid_from), the source's columns (generated_columns), valid_from,
    valid_to (NULL while open), is_current, is_deleted, version_number, _extracted_at, _batch_id. -#}
{% macro generated_history(source_name, table_name, landing, key=none, cursor=none, strategy=none) -%}
    {%- set meta = generated_table_meta(source_name, table_name, key, cursor, strategy) -%}
    {%- if not execute -%}
    select * from {{ landing }}
    {%- else -%}
    {%- set key = meta['key'] | map('lower') | list -%}
    {%- set columns = generated_columns(source_name, table_name, landing) -%}
    {%- set partition = key | join(', ') -%}
    {%- if meta['cursor'] and meta['strategy'] in ['hybrid', 'timestamp'] -%}
        {{ generated_history_by_cursor(meta, key, columns, partition, landing) }}
    {%- else -%}
        {{ generated_history_by_run(meta, key, columns, partition, landing) }}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
