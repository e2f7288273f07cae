{#- Pre-hook of every landing model: makes lake_relation() readable. Nothing to do where the lake is
    read in place (DuckDB). On Redshift it loads the table's load plan (var lake_loads, built by
    `extractor run` from the Parquet footers of the files to load): one temporary staging table and one COPY
    per schema version, in order, each staging table's columns exactly its files' Parquet columns (COPY
    matches by position); every version's rows go into the temporary `<landing>__copy` (union of the
    versions' columns) that the landing model reads. Columns a version brings are added to landing
    (ALTER TABLE … ADD COLUMN) before its COPY. landing_relation defaults to the model being built. -#}
{% macro lake_prepare(source_name, table_name, landing_relation=none) -%}
    {{ return(adapter.dispatch('lake_prepare')(source_name, table_name, landing_relation)) }}
{%- endmacro %}

{#- Nothing to prepare: an empty hook is skipped by dbt. -#}
{% macro default__lake_prepare(source_name, table_name, landing_relation=none) -%}
{%- endmacro %}

{% macro redshift__lake_prepare(source_name, table_name, landing_relation=none) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set landing = landing_relation if landing_relation is not none else this -%}
    {%- set copy_relation = _lake_copy_relation(landing) -%}
    {%- set load_relation = _lake_copy_relation(landing, '__load') -%}
    {%- set plan = var('lake_loads', {}).get(source_name, {}).get(table_name, {}) -%}
    {%- set steps = plan.get('steps', []) -%}
    {%- set offline = var('assume_incremental', none) is not none -%}
    {%- if landing_relation is not none -%}
        {%- set incremental = var('assume_incremental', false) in [true, 'true', 'True', 1, '1'] -%}
    {%- else -%}
        {%- set incremental = lake_is_incremental() -%}
    {%- endif -%}
    {%- if not incremental and plan.get('acknowledged_before') and not plan.get('backfill') -%}
        {{ exceptions.raise_compiler_error(
            "landing " ~ landing ~ " is being created (a new cluster or schema, or a full refresh) while earlier "
            ~ "batches of " ~ source_name ~ "." ~ table_name ~ " were already acknowledged: loading only the pending "
            ~ "files would lose them. Rebuild it from every file still in the lake: "
            ~ "extractor run --skip-extract --backfill") }}
    {%- endif -%}
    {#- Columns landing has now: introspected when running, assumed to be the first version's offline. -#}
    {%- set known = [] -%}
    {%- if incremental and not offline -%}
        {%- for column in adapter.get_columns_in_relation(landing) -%}{%- do known.append(column.name | lower) -%}{%- endfor -%}
    {%- elif incremental and steps -%}
        {%- for column in steps[0].columns -%}{%- do known.append(column.name | lower) -%}{%- endfor -%}
    {%- endif -%}
    {%- set union = plan.get('columns') or [] -%}
    {%- if not union -%}
        {%- set node = _lake_source_node(source_name, table_name) -%}
        {%- set union = node.columns.values() | list if node else [] -%}
    {%- endif -%}
    {%- if union | length == 0 -%}
        {%- set union = [{'name': '_extracted_at', 'data_type': 'TIMESTAMP'}, {'name': '_batch_id', 'data_type': 'VARCHAR(64)'},
                         {'name': '_op', 'data_type': 'CHAR(1)'}] -%}
    {%- endif -%}
    {#- Earlier versions kept a permanent <landing>__copy: a second copy of the last batch. Gone. -#}
    drop table if exists {{ api.Relation.create(database=landing.database, schema=landing.schema, identifier=landing.identifier ~ '__copy') }};
    drop table if exists {{ copy_relation }};
    create temp table {{ copy_relation }} (
        {%- for column in union %}
        {{ adapter.quote(column.name) }} {{ column.data_type }}{{ "," if not loop.last }}
        {%- endfor %}
    );
    {%- for step in steps %}
    {%- if incremental %}
    {%- for column in step.columns if (column.name | lower) not in known %}
    alter table {{ landing }} add column {{ adapter.quote(column.name) }} {{ column.data_type }};
    {%- do known.append(column.name | lower) -%}
    {%- endfor %}
    {%- endif %}
    drop table if exists {{ load_relation }};
    create temp table {{ load_relation }} (
        {%- for column in step.columns %}
        {{ adapter.quote(column.name) }} {{ column.data_type }}{{ "," if not loop.last }}
        {%- endfor %}
    );
    copy {{ load_relation }}
    from '{{ step.manifest }}'
    iam_role '{{ var("redshift_iam_role") }}'
    format as parquet
    manifest;
    insert into {{ copy_relation }} ({% for column in step.columns %}{{ adapter.quote(column.name) }}{{ ", " if not loop.last }}{% endfor %})
    select {% for column in step.columns %}{{ adapter.quote(column.name) }}{{ ", " if not loop.last }}{% endfor %} from {{ load_relation }};
    drop table {{ load_relation }};
    {%- endfor %}
{%- endmacro %}
