{#- Fails with every row that has a null in any of `columns`: one scan for all of a model's
    required columns instead of one not_null test (and one scan) per column. -#}
{% test no_nulls(model, columns) %}
select *
from {{ model }}
where {% for name in columns %}{{ name }} is null{% if not loop.last %}
    or {% endif %}{% endfor %}
{% endtest %}
