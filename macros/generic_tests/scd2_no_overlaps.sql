{#- Fails with every pair of versions of the same key whose [valid_from, valid_to) windows overlap, and
    every version that ends before it starts. valid_to null means open-ended. -#}
{% test scd2_no_overlaps(model, key_columns, valid_from_column='valid_from', valid_to_column='valid_to') %}

with

versions as (

    select
        {% for key in key_columns %}{{ key }}, {% endfor %}
        {{ valid_from_column }} as valid_from,
        {{ valid_to_column }} as valid_to,
        lead({{ valid_from_column }}) over (
            partition by {% for key in key_columns %}{{ key }}{{ ", " if not loop.last }}{% endfor %}
            order by {{ valid_from_column }}
        ) as next_valid_from
    from {{ model }}

)

select *
from versions
where valid_to <= valid_from
    or (next_valid_from is not null and (valid_to is null or valid_to > next_valid_from))
    or next_valid_from = valid_from

{% endtest %}
