{#- Fails with every version followed by a later version of the same key that does not start exactly
    where it ends; a version closed by a delete (deleted_column true) may be followed by a gap. -#}
{% test scd2_no_gaps(model, key_columns, valid_from_column='valid_from', valid_to_column='valid_to', deleted_column=none) %}

with

versions as (

    select
        {% for key in key_columns %}{{ key }}, {% endfor %}
        {{ valid_to_column }} as valid_to,
        {% if deleted_column %}{{ deleted_column }}{% else %}false{% endif %} as is_deleted,
        lead({{ valid_from_column }}) over (
            partition by {% for key in key_columns %}{{ key }}{{ ", " if not loop.last }}{% endfor %}
            order by {{ valid_from_column }}
        ) as next_valid_from
    from {{ model }}

)

select *
from versions
where next_valid_from is not null
    and not is_deleted
    and (valid_to is null or valid_to <> next_valid_from)

{% endtest %}
