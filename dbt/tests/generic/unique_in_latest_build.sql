{#- `columns` are unique in an incremental model, checked where they can break: in the files
    that got rows in the latest build (`loaded_at_column`). A file without new rows only lost
    rows, which cannot make a key repeat. The first build checks every file; a monthly build
    checks one month instead of scanning a hundred million events.
    Used for the landing models (incremental_landing.sql: re-judged rows carry the build's
    loaded_at too) and the aggregates built from them (incremental_by_source_file.sql). -#}
{% test unique_in_latest_build(model, columns=['source_file', 'source_line'], loaded_at_column='loaded_at') %}
with

latest_build as (
    select max({{ loaded_at_column }}) as loaded_at from {{ model }}
),

touched_files as (
    select distinct source_file
    from {{ model }}
    where {{ loaded_at_column }} = (select loaded_at from latest_build)
)

select
    {{ columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
where source_file in (select source_file from touched_files)
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
