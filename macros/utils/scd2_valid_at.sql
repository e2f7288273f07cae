{#- The join condition "the SCD2 version of `dimension` valid at `point_in_time`": valid_from inclusive,
    valid_to exclusive, an open (NULL) valid_to meaning "still current". Written without OR and with a
    constant for the open end: an OR, or the other side's column inside the coalesce, makes DuckDB fall
    back to a nested-loop join (400,000 orders × 80,000 customer versions: 84–94 s, against 0.37 s for
    the hash join this form allows). The constant is a day past MySQL's largest DATETIME. -#}
{% macro scd2_valid_at(dimension, point_in_time) -%}
    {{ point_in_time }} >= {{ dimension }}.valid_from
    and {{ point_in_time }} < coalesce(
        {{ dimension }}.valid_to, cast('9999-12-31 23:59:59.999999' as timestamp) + interval '1 day'
    )
{%- endmacro %}
