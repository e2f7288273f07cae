{#- Fails with every key that has more than one current row. Deleted keys (no current row) pass. -#}
{% test scd2_one_current_row(model, key_columns, is_current_column='is_current') %}

select
    {% for key in key_columns %}{{ key }}, {% endfor %}
    count(*) as current_rows
from {{ model }}
where {{ is_current_column }}
group by {% for key in key_columns %}{{ key }}{{ ", " if not loop.last }}{% endfor %}
having count(*) > 1

{% endtest %}
